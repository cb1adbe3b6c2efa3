//! Who may reach an instance's tokens and logs: its developer, admins, and (for logs) the
//! instance's own token. Anyone else is told the instance does not exist.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use entity::{instances, prelude::*};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// The instance, if this caller may see it; NOT_FOUND otherwise, so existence is not revealed.
pub async fn visible_instance(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    instance_id: Uuid,
) -> AppResult<instances::Model> {
    let own_token = caller.instance_token() == Some(instance_id);
    if caller.instance_token().is_none() {
        caller.require_user()?;
    }
    Instances::find_by_id(instance_id)
        .one(conn)
        .await?
        .filter(|i| own_token || caller.can_see_developer(i.developer_id))
        .ok_or(AppError::NotFound("instance"))
}
