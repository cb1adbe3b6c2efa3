//! Reading the audit trail: newest first, admins all of it, developers what they own.

use super::model::AuditFilter;
use crate::auth::{Actor, Caller, Role};
use crate::error::{AppError, AppResult};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{audit_events, prelude::*};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select};

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn matching(caller: &Caller, filter: &AuditFilter) -> AppResult<Select<AuditEvents>> {
    let mut condition = Condition::all();
    match caller.require_user()? {
        (_, Role::Admin) => {}
        (id, Role::Developer) => condition = condition.add(audit_events::Column::OwnerId.eq(id)),
        (_, Role::Member) => {
            return Err(AppError::Forbidden(
                "team members cannot read the audit trail",
            ));
        }
    }
    if let Some(kind) = &filter.entity_type {
        condition = condition.add(audit_events::Column::EntityType.eq(kind.as_str()));
    }
    if let Some(id) = filter.entity_id {
        condition = condition.add(audit_events::Column::EntityId.eq(id));
    }
    if let Some(id) = filter.actor_id {
        condition = condition.add(audit_events::Column::ActorId.eq(id));
    }
    if let Some(prefix) = &filter.type_prefix {
        condition = condition.add(audit_events::Column::EventType.starts_with(prefix.as_str()));
    }
    if let Some(from) = filter.from {
        condition = condition.add(audit_events::Column::CreatedAt.gte(from.fixed_offset()));
    }
    if let Some(to) = filter.to {
        condition = condition.add(audit_events::Column::CreatedAt.lt(to.fixed_offset()));
    }
    if let Some(text) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        condition = condition.add(
            Expr::expr(Func::lower(
                Expr::col(audit_events::Column::Metadata).cast_as("TEXT"),
            ))
            .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    Ok(AuditEvents::find().filter(condition))
}

pub async fn page(
    actor: &Actor,
    filter: &AuditFilter,
    page: &PageArgs,
) -> AppResult<Page<audit_events::Model>> {
    let mut query = matching(actor, filter)?.order_by_desc(audit_events::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(audit_events::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor, filter: &AuditFilter) -> AppResult<Count> {
    total_count::count(&actor.app, matching(actor, filter)?).await
}
