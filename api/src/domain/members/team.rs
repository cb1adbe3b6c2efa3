//! A team's members: listing them, and removing one with its seats and sessions.

use crate::auth::{Actor, Role};
use crate::domain::accounts::readable::accounts;
use crate::domain::seats::service::{Release, SeatHolder, release_all_of};
use crate::domain::sessions::service as sessions;
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{prelude::*, users};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use serde_json::json;
use uuid::Uuid;

fn of_team(developer: Uuid) -> Select<Users> {
    accounts()
        .filter(users::Column::DeveloperId.eq(developer))
        .filter(users::Column::Role.eq(Role::Member.as_str()))
}

/// One page of a team's members, in the order they joined.
pub async fn page(
    actor: &Actor,
    developer: Uuid,
    page: &PageArgs,
) -> AppResult<Page<users::Model>> {
    let mut query = of_team(developer).order_by_asc(users::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(users::Column::Id.gt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor, developer: Uuid) -> AppResult<Count> {
    total_count::count(&actor.app, of_team(developer)).await
}

/// `removeMember`: revokes the member's seats, ends its sessions on every gateway (its open
/// sockets close) and deletes its account, so the address is free again. The team's developer
/// or an admin; anyone else is answered NOT_FOUND.
#[tracing::instrument(skip(actor))]
pub async fn remove(actor: &Actor, member_id: Uuid) -> AppResult<users::Model> {
    actor.require_user()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let member = Users::find_by_id(member_id)
        .filter(users::Column::Role.eq(Role::Member.as_str()))
        .one(&*uow)
        .await?
        .filter(|m| {
            !actor.caller.is_member() && m.developer_id.is_some_and(|team| actor.manages(team))
        })
        .ok_or(AppError::NotFound("member"))?;
    let team = member.developer_id.ok_or(AppError::NotFound("member"))?;
    let seats = release_all_of(&mut uow, SeatHolder::Member(member_id), Release::Revoke).await?;
    let ended = sessions::end_all_within(&uow, member_id, None).await?;
    Users::delete_by_id(member_id).exec(&*uow).await?;
    let metadata = json!({ "email": member.email, "seatsRevoked": seats });
    uow.record(
        Change::new("member.removed", "user", member_id)
            .owner(team)
            .metadata(metadata),
    )
    .await?;
    uow.commit().await?;
    sessions::forget(actor, &ended).await;
    Ok(member)
}
