//! Reading an instance's logs: newest first by the time the instance gave them, paged by keyset
//! on (logged_at, id), since client-given times do not follow id order.

use super::model::LogLevel;
use crate::auth::Actor;
use crate::domain::instances::access::visible_instance;
use crate::error::{AppError, AppResult};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Utc};
use entity::{instance_logs, prelude::*};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

#[derive(Default)]
pub struct LogFilter {
    /// Exactly this level.
    pub level: Option<LogLevel>,
    /// This level and more severe ones.
    pub min_level: Option<LogLevel>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

fn condition(instance_id: Uuid, filter: &LogFilter) -> AppResult<Condition> {
    let mut condition = Condition::all().add(instance_logs::Column::InstanceId.eq(instance_id));
    match (filter.level, filter.min_level) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "minLevel",
                "give level or minLevel, not both",
            ));
        }
        (Some(level), None) => {
            condition = condition.add(instance_logs::Column::Level.eq(level.as_str()));
        }
        (None, Some(min)) if min > LogLevel::Debug => {
            condition = condition.add(instance_logs::Column::Level.is_in(min.and_above()));
        }
        _ => {}
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(AppError::validation("to", "must be after from"));
    }
    if let Some(from) = filter.from {
        condition = condition.add(instance_logs::Column::LoggedAt.gte(from.fixed_offset()));
    }
    if let Some(to) = filter.to {
        condition = condition.add(instance_logs::Column::LoggedAt.lt(to.fixed_offset()));
    }
    Ok(condition)
}

/// The instance's lines matching the filter, and the developer whose instance it is.
async fn matching(
    actor: &Actor,
    instance_id: Uuid,
    filter: &LogFilter,
) -> AppResult<(Select<InstanceLogs>, Uuid)> {
    let instance = visible_instance(&actor.app.db, actor, instance_id).await?;
    let query = InstanceLogs::find().filter(condition(instance_id, filter)?);
    Ok((query, instance.developer_id))
}

/// A log line, with the developer whose instance wrote it (who may see it follows from that).
pub type Line = (instance_logs::Model, Uuid);

/// One page, and whether another follows.
pub async fn page(
    actor: &Actor,
    instance_id: Uuid,
    filter: &LogFilter,
    page: &PageArgs,
) -> AppResult<Page<Line>> {
    let db = &actor.app.db;
    let (query, developer) = matching(actor, instance_id, filter).await?;
    let mut query = query
        .order_by_desc(instance_logs::Column::LoggedAt)
        .order_by_desc(instance_logs::Column::Id);
    if let Some(after) = page.after_id() {
        // The cursor is the last row's id; its time is read back rather than carried, so
        // cursors stay the same opaque ids as everywhere else.
        let anchor = InstanceLogs::find_by_id(after)
            .filter(instance_logs::Column::InstanceId.eq(instance_id))
            .one(db)
            .await?
            .ok_or_else(|| AppError::validation("after", "not a cursor from this list"))?;
        query = query.filter(
            Condition::any()
                .add(instance_logs::Column::LoggedAt.lt(anchor.logged_at))
                .add(
                    Condition::all()
                        .add(instance_logs::Column::LoggedAt.eq(anchor.logged_at))
                        .add(instance_logs::Column::Id.lt(after)),
                ),
        );
    }
    let page = paging::fetch(db, query, page).await?;
    Ok(page.map(|line| (line, developer)))
}

pub async fn count(actor: &Actor, instance_id: Uuid, filter: &LogFilter) -> AppResult<Count> {
    let (query, _) = matching(actor, instance_id, filter).await?;
    total_count::count(&actor.app, query).await
}
