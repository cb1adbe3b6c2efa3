//! Reading an instance's logs: newest first by the time the instance gave them, paged by keyset
//! on (logged_at, id), since client-given times do not follow id order.

use super::access::visible_instance;
use super::logs::LogLevel;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::graphql::pagination::PageArgs;
use chrono::{DateTime, Utc};
use entity::{instance_logs, prelude::*};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
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

async fn matching(
    db: &DatabaseConnection,
    caller: &Caller,
    instance_id: Uuid,
    filter: &LogFilter,
) -> AppResult<Select<InstanceLogs>> {
    visible_instance(db, caller, instance_id).await?;
    Ok(InstanceLogs::find().filter(condition(instance_id, filter)?))
}

/// One page, and whether another follows.
pub async fn page(
    db: &DatabaseConnection,
    caller: &Caller,
    instance_id: Uuid,
    filter: &LogFilter,
    page: &PageArgs,
) -> AppResult<(Vec<instance_logs::Model>, bool)> {
    let mut query = matching(db, caller, instance_id, filter)
        .await?
        .order_by_desc(instance_logs::Column::LoggedAt)
        .order_by_desc(instance_logs::Column::Id);
    if let Some(after) = page.after {
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
    let mut rows = query.limit(page.limit + 1).all(db).await?;
    let has_next = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    Ok((rows, has_next))
}

pub async fn count(
    db: &DatabaseConnection,
    caller: &Caller,
    instance_id: Uuid,
    filter: &LogFilter,
) -> AppResult<u64> {
    Ok(matching(db, caller, instance_id, filter)
        .await?
        .count(db)
        .await?)
}
