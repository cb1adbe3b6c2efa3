//! Who may reach an instance's tokens and logs: its developer, admins, and (for logs) the
//! instance's own token. Anyone else is told the instance does not exist.

use crate::auth::{Actor, Audience};
use crate::error::{AppError, AppResult};
use entity::{instances, prelude::*};
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// The instance, if this caller may see it; NOT_FOUND otherwise, so existence is not revealed.
pub async fn visible_instance(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    instance_id: Uuid,
) -> AppResult<instances::Model> {
    if actor.instance_token().is_none() {
        actor.require_user()?;
    }
    Instances::find_by_id(instance_id)
        .one(conn)
        .await?
        .filter(|i| {
            actor.may_see(Audience::Instance {
                id: i.id,
                developer: i.developer_id,
            })
        })
        .ok_or(AppError::NotFound("instance"))
}
