//! Keeping tables within their retention: instance logs after `RETENTION_INSTANCE_LOG_DAYS`,
//! raw usage events after `RETENTION_USAGE_EVENT_DAYS` of being received (their roll-ups are
//! kept), handled payment webhooks after `RETENTION_WEBHOOK_DAYS` (dead letters are kept until an
//! admin settles them). Ids are time-ordered (UUIDv7), so "older than" is a range of the primary key and needs
//! no index of its own. Deleted in bounded batches, so a backlog never holds one long
//! transaction.

use crate::auth::Actor;
use crate::domain::billing::model::WebhookStatus;
use crate::error::AppResult;
use chrono::{DateTime, Duration, Utc};
use entity::{instance_logs, prelude::*, usage_events, webhook_events};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, DeleteResult, EntityTrait, QueryFilter, QuerySelect,
    Select,
};
use uuid::Uuid;

/// Rows deleted per statement.
const BATCH: u64 = 1_000;

/// Statements per run at most; the rest waits for the next run.
const MAX_BATCHES: usize = 50;

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
    let logs = in_batches(db, logs, |ids| {
        InstanceLogs::delete_many()
            .filter(instance_logs::Column::Id.is_in(ids))
            .exec(db)
    });
    let usage = in_batches(db, usage, |ids| {
        UsageEvents::delete_many()
            .filter(usage_events::Column::Id.is_in(ids))
            .exec(db)
    });
    let webhooks = in_batches(db, webhooks, |ids| {
        WebhookEvents::delete_many()
            .filter(webhook_events::Column::Id.is_in(ids))
            .exec(db)
    });
    Ok(logs.await? + usage.await? + webhooks.await?)
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
