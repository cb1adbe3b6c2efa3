//! On PostgreSQL, validations that arrive together share one statement.
//!
//! A fixed number of lanes each take whatever validations are waiting, up to a maximum, and
//! look them all up in one statement (one indexed probe per key). A lone validation is sent at
//! once, so a quiet gateway adds no delay; under load the waiting line grows while the lanes
//! are busy and the next statement carries it whole. The database then parses, plans and
//! answers once per batch instead of once per request, which is what lets a validation cost
//! the gateway and the database less than the statement it replaces.

use super::validation::{ValidationRow, batch_statement};
use crate::error::{AppError, AppResult};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// What a lane sends back for one key: its row, if the key matched a license.
type Answer = Result<Option<ValidationRow>, ()>;

struct Waiting {
    digest: String,
    fingerprint: String,
    reply: oneshot::Sender<Answer>,
}

#[derive(Clone)]
pub struct LookupBatcher {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl LookupBatcher {
    /// Starts `lanes` lanes on the current runtime; they stop when the last handle is dropped.
    pub fn start(db: DatabaseConnection, lanes: usize, max_batch: usize) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(db.clone(), waiting.clone(), max_batch.max(1)));
        }
        Self { queue }
    }

    /// The row for one key digest and fingerprint, looked up together with whatever other
    /// validations are waiting.
    pub(super) async fn lookup(
        &self,
        digest: String,
        fingerprint: String,
    ) -> AppResult<Option<ValidationRow>> {
        let (reply, answer) = oneshot::channel();
        let lost = || AppError::internal(anyhow::anyhow!("the license lookup failed"));
        self.queue
            .send(Waiting {
                digest,
                fingerprint,
                reply,
            })
            .map_err(|_| lost())?;
        answer.await.map_err(|_| lost())?.map_err(|()| lost())
    }
}

async fn lane(
    db: DatabaseConnection,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Waiting>>>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        {
            let mut waiting = waiting.lock().await;
            if waiting.recv_many(&mut batch, max_batch).await == 0 {
                return; // every handle is gone
            }
        }
        answer(&db, &mut batch).await;
    }
}

/// Looks the batch up in one statement and answers (and empties) it.
async fn answer(db: &DatabaseConnection, batch: &mut Vec<Waiting>) {
    let (digests, fingerprints) = batch
        .iter_mut()
        .map(|w| {
            (
                std::mem::take(&mut w.digest),
                std::mem::take(&mut w.fingerprint),
            )
        })
        .unzip();
    let statement = batch_statement(db.get_database_backend(), digests, fingerprints, Utc::now());
    let mut rows: Vec<Option<ValidationRow>> = (0..batch.len()).map(|_| None).collect();
    let outcome = match db.query_all_raw(statement).await {
        Ok(found) => found.iter().try_for_each(|result| {
            let position: i64 = result.try_get("", "position")?;
            let row = ValidationRow::from_query_result(result, "")?;
            if let Some(slot) = usize::try_from(position - 1)
                .ok()
                .and_then(|i| rows.get_mut(i))
            {
                *slot = Some(row);
            }
            Ok::<_, sea_orm::DbErr>(())
        }),
        Err(err) => Err(err),
    };
    if let Err(err) = &outcome {
        tracing::error!(error = ?err, keys = batch.len(), "batched license lookup failed");
    }
    for (waiting, row) in batch.drain(..).zip(rows) {
        // A caller that went away no longer needs its answer.
        let _ = waiting
            .reply
            .send(outcome.as_ref().map(|_| row).map_err(|_| ()));
    }
}
