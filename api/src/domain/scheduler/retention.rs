//! Keeping tables within their retention: instance logs after `RETENTION_INSTANCE_LOG_DAYS`,
//! raw usage events after `RETENTION_USAGE_EVENT_DAYS` of being received (their roll-ups are
//! kept), handled payment webhooks after `RETENTION_WEBHOOK_DAYS` (dead letters are kept until an
//! admin settles them), webhooks sent (delivered or given up) after the same, the event log after `EVENT_LOG_RETENTION_DAYS`, idempotency keys after
//! the day they answer for. Ids are time-ordered (UUIDv7), so "older than" is a range of the primary key and needs
//! no index of its own. Deleted in bounded batches, so a backlog never holds one long
//! transaction.

use crate::auth::Actor;
use crate::domain::billing::model::WebhookStatus;
use crate::domain::webhooks::model::WebhookDeliveryStatus;
use crate::error::AppResult;
use crate::http::idempotency;
use chrono::{DateTime, Duration, Utc};
use entity::{
    event_log, event_log_state, idempotency_keys, instance_logs, prelude::*, usage_events,
    webhook_deliveries, webhook_events,
};
use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, DeleteResult, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

/// Rows deleted per statement.
const BATCH: u64 = 1_000;

/// Statements per run at most; the rest waits for the next run.
const MAX_BATCHES: usize = 50;

/// Each kind in turn. Every batch loop is boxed and awaited before the next is made: the job
/// runs inside a request's task (`advanceTestClock`), and a future holding all of them at once
/// outgrew a thread's stack in debug builds.
pub async fn prune(actor: &Actor) -> AppResult<u64> {
    let retention = &actor.app.config.retention;
    let before = |days: i64| first_id_at(actor.now - Duration::days(days));
    let logs = InstanceLogs::find()
        .select_only()
        .column(instance_logs::Column::Id)
        .filter(instance_logs::Column::Id.lt(before(retention.instance_log_days)));
    let usage = UsageEvents::find()
        .select_only()
        .column(usage_events::Column::Id)
        .filter(usage_events::Column::Id.lt(before(retention.usage_event_days)));
    let handled = [
        WebhookStatus::Processed,
        WebhookStatus::Ignored,
        WebhookStatus::Discarded,
    ]
    .map(WebhookStatus::as_str);
    let webhooks = WebhookEvents::find()
        .select_only()
        .column(webhook_events::Column::Id)
        .filter(webhook_events::Column::Id.lt(before(retention.webhook_days)))
        .filter(webhook_events::Column::Status.is_in(handled));
    let db = &actor.app.db;
    let logs = Box::pin(in_batches(db, logs, |ids| {
        InstanceLogs::delete_many()
            .filter(instance_logs::Column::Id.is_in(ids))
            .exec(db)
    }))
    .await?;
    let usage = Box::pin(in_batches(db, usage, |ids| {
        UsageEvents::delete_many()
            .filter(usage_events::Column::Id.is_in(ids))
            .exec(db)
    }))
    .await?;
    let webhooks = Box::pin(in_batches(db, webhooks, |ids| {
        WebhookEvents::delete_many()
            .filter(webhook_events::Column::Id.is_in(ids))
            .exec(db)
    }))
    .await?;
    let settled = [
        WebhookDeliveryStatus::Succeeded,
        WebhookDeliveryStatus::Dead,
    ]
    .map(WebhookDeliveryStatus::as_str);
    let sent = WebhookDeliveries::find()
        .select_only()
        .column(webhook_deliveries::Column::Id)
        .filter(webhook_deliveries::Column::Id.lt(before(retention.webhook_days)))
        .filter(webhook_deliveries::Column::Status.is_in(settled));
    let sent = Box::pin(in_batches(db, sent, |ids| {
        WebhookDeliveries::delete_many()
            .filter(webhook_deliveries::Column::Id.is_in(ids))
            .exec(db)
    }))
    .await?;
    let keys = IdempotencyKeys::find()
        .select_only()
        .column(idempotency_keys::Column::Id)
        .filter(idempotency_keys::Column::Id.lt(first_id_at(actor.now - idempotency::KEPT)));
    let keys = Box::pin(in_batches(db, keys, |ids| {
        IdempotencyKeys::delete_many()
            .filter(idempotency_keys::Column::Id.is_in(ids))
            .exec(db)
    }))
    .await?;
    let events = Box::pin(prune_event_log(
        db,
        actor.now - Duration::days(retention.event_log_days),
    ))
    .await?;
    Ok(logs + usage + webhooks + sent + keys + events)
}

/// Deletes the event log's rows older than `cutoff`, oldest first, a batch at a time, and
/// remembers the highest position deleted (a cursor below it cannot be resumed). Positions
/// follow commit time, so the old rows are the first ones: read by the primary key, no index
/// on time needed.
async fn prune_event_log(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> AppResult<u64> {
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let oldest: Vec<(i64, DateTimeWithTimeZone)> = EventLog::find()
            .select_only()
            .column(event_log::Column::Position)
            .column(event_log::Column::OccurredAt)
            .order_by_asc(event_log::Column::Position)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let Some(through) = oldest
            .iter()
            .take_while(|(_, at)| at.with_timezone(&Utc) < cutoff)
            .map(|(position, _)| *position)
            .last()
        else {
            break;
        };
        let txn = db.begin().await?;
        deleted += EventLog::delete_many()
            .filter(event_log::Column::Position.lte(through))
            .exec(&txn)
            .await?
            .rows_affected;
        EventLogState::update_many()
            .col_expr(event_log_state::Column::PrunedThrough, Expr::value(through))
            .filter(event_log_state::Column::PrunedThrough.lt(through))
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
    Ok(deleted)
}

/// Deletes the rows `old` finds, a batch at a time, up to `MAX_BATCHES`; answers how many.
async fn in_batches<E, D>(
    db: &DatabaseConnection,
    old: Select<E>,
    delete: impl Fn(Vec<Uuid>) -> D,
) -> AppResult<u64>
where
    E: EntityTrait,
    D: Future<Output = Result<DeleteResult, DbErr>>,
{
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let ids: Vec<Uuid> = old.clone().limit(BATCH).into_tuple().all(db).await?;
        if ids.is_empty() {
            break;
        }
        deleted += delete(ids).await?.rows_affected;
    }
    Ok(deleted)
}

/// The smallest UUIDv7 of the millisecond `at`: every id made before it sorts below it.
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_before_a_moment_sort_below_its_first_id() {
        let at = Utc::now();
        let before = Uuid::now_v7();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let bound = first_id_at(Utc::now());
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = Uuid::now_v7();
        assert!(before < bound && bound < after, "{before} {bound} {after}");
        assert_eq!(bound.get_version_num(), 7);
        assert!(first_id_at(at - Duration::days(1)) < before);
    }
}
