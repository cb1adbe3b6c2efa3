//! The durable event log and this process's reader of it.
//!
//! Every published change is a row of `event_log`, written by the unit of work that made it, in
//! its transaction, and numbered by an increasing position. On commit PostgreSQL NOTIFYs the
//! highest position (SQLite's one process wakes its reader directly); the reader then reads the
//! rows after the last position it delivered and broadcasts them in order to this process's
//! subscribers. A row can be visible before a smaller position is (its transaction still
//! committing): the reader delivers only a gapless run and waits for the gap, until `GAP_WAIT`
//! says the smaller position belonged to a transaction that rolled back. It also looks every
//! `POLL` without being woken, so a LISTEN connection that drops loses nothing.

use super::bus::DomainEvent;
use chrono::Utc;
use entity::{event_log, prelude::*};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

/// How long the reader waits for a missing position before taking it for a rollback.
const GAP_WAIT: Duration = Duration::from_secs(3);

/// How often the reader looks without being woken.
const POLL: Duration = Duration::from_secs(1);

/// Rows read per statement at most.
pub const PAGE: u64 = 500;

pub fn as_event(row: event_log::Model) -> DomainEvent {
    DomainEvent {
        kind: row.kind,
        entity_id: row.entity_id,
        developer_id: row.developer_id,
        data: row.data,
        occurred_at: row.occurred_at.with_timezone(&Utc),
        position: row.position,
    }
}

/// Rows after `position`, in order, at most `page`: everyone's, or one developer's (with the
/// rows that belong to no developer, which only admins see, left out).
pub async fn rows_after(
    conn: &impl ConnectionTrait,
    position: i64,
    owner: Option<Uuid>,
    page: u64,
) -> Result<Vec<event_log::Model>, DbErr> {
    let mut query = EventLog::find()
        .filter(event_log::Column::Position.gt(position))
        .order_by_asc(event_log::Column::Position)
        .limit(page);
    if let Some(developer) = owner {
        query = query.filter(event_log::Column::DeveloperId.eq(developer));
    }
    query.all(conn).await
}

/// The highest position pruned by retention: a cursor below it cannot be resumed.
pub async fn pruned_through(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(EventLogState::find_by_id(1)
        .one(conn)
        .await?
        .map_or(0, |state| state.pruned_through))
}

/// Where this process's reader is: the last position it delivered.
#[derive(Clone, Default)]
pub struct Tail {
    delivered: Arc<AtomicI64>,
    wake: Arc<Notify>,
}

impl Tail {
    pub fn position(&self) -> i64 {
        self.delivered.load(Ordering::SeqCst)
    }

    /// Asks the reader to look now (a commit, or a NOTIFY).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The log's last position now (0 when empty): where a subscription without a cursor starts.
pub async fn end(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let end: Option<i64> = EventLog::find()
        .select_only()
        .column_as(event_log::Column::Position.max(), "end")
        .into_tuple()
        .one(conn)
        .await?
        .flatten();
    Ok(end.unwrap_or(0))
}

/// Starts this process's reader at the end of the log as it stands.
pub async fn start_reader(
    db: &DatabaseConnection,
    tail: Tail,
    sender: broadcast::Sender<Arc<DomainEvent>>,
    page: u64,
) -> Result<(), DbErr> {
    tail.delivered.store(end(db).await?, Ordering::SeqCst);
    tokio::spawn(read(db.clone(), tail, sender, page));
    Ok(())
}

async fn read(
    db: DatabaseConnection,
    tail: Tail,
    sender: broadcast::Sender<Arc<DomainEvent>>,
    page: u64,
) {
    let mut gap_since: Option<Instant> = None;
    loop {
        let wait = if gap_since.is_some() {
            Duration::from_millis(50)
        } else {
            POLL
        };
        tokio::select! {
            () = tail.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        loop {
            let from = tail.position();
            let rows = match rows_after(&db, from, None, page).await {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(%err, "the event log could not be read; trying again");
                    break;
                }
            };
            let full = rows.len() as u64 == page;
            let mut expected = from + 1;
            let mut stopped_at_gap = false;
            for row in rows {
                if row.position != expected {
                    let since = *gap_since.get_or_insert_with(Instant::now);
                    if since.elapsed() < GAP_WAIT {
                        stopped_at_gap = true;
                        break;
                    }
                    tracing::debug!(
                        from = expected,
                        to = row.position - 1,
                        "event log positions never committed: skipped"
                    );
                }
                gap_since = None;
                expected = row.position + 1;
                tail.delivered.store(row.position, Ordering::SeqCst);
                // No subscriber is not an error.
                let _ = sender.send(Arc::new(as_event(row)));
            }
            if stopped_at_gap || !full {
                break;
            }
        }
    }
}
