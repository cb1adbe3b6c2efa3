//! Finding the row a validation answers from: the license by key digest, its plan's node
//! limit, this fingerprint's node and the license's node counts, in one indexed statement.
//!
//! On PostgreSQL, validations that arrive together share one statement. A fixed number of
//! lanes each take whatever validations are waiting, up to a maximum, and look them all up in
//! one statement (one indexed probe per key). A lone validation is sent at once, so a quiet
//! gateway adds no delay; under load the waiting line grows while the lanes are busy and the
//! next statement carries it whole. The database then parses, plans and answers once per
//! batch instead of once per request. SQLite keeps one statement per validation (an embedded
//! file has no round trip to save).

use crate::clock::Clock;
use crate::error::{AppError, AppResult, Code};
use chrono::{DateTime, FixedOffset, Utc};
use entity::{licenses, plan_entitlements, runtime_nodes};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Query, SelectStatement, SubQueryStatement, Value,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

#[derive(FromQueryResult)]
/// What one validation reads.
pub(super) struct ValidationRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub developer_id: Uuid,
    pub state: String,
    pub product: String,
    pub expires_at: Option<DateTime<FixedOffset>>,
    pub grace_ends_at: Option<DateTime<FixedOffset>>,
    pub max_runtime_nodes: Option<i32>,
    pub node_deadline: Option<DateTime<FixedOffset>>,
    pub nodes_total: i64,
    pub nodes_alive: i64,
}

/// A correlated count of the license's active nodes (alive at a time, when one is given).
fn node_count(alive_at: Option<DateTime<FixedOffset>>) -> Expr {
    let other = Alias::new("other_nodes");
    let mut count = Query::select();
    count
        .expr(Expr::cust("COUNT(*)"))
        .from_as(runtime_nodes::Entity, other.clone())
        .and_where(
            Expr::col((other.clone(), runtime_nodes::Column::LicenseId))
                .equals((licenses::Entity, licenses::Column::Id)),
        )
        .and_where(Expr::col((other.clone(), runtime_nodes::Column::Status)).eq("active"));
    if let Some(at) = alive_at {
        count.and_where(Expr::col((other, runtime_nodes::Column::HeartbeatDeadlineAt)).gte(at));
    }
    Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(count)))
}

/// The one statement: the license by key digest, its plan's node limit, this fingerprint's node
/// and the license's node counts.
fn statement_for(
    digest: String,
    fingerprint: String,
    now: DateTime<FixedOffset>,
) -> SelectStatement {
    let mut query = Query::select();
    query
        .columns([
            (licenses::Entity, licenses::Column::Id),
            (licenses::Entity, licenses::Column::PlanId),
            (licenses::Entity, licenses::Column::DeveloperId),
            (licenses::Entity, licenses::Column::State),
            (licenses::Entity, licenses::Column::Product),
            (licenses::Entity, licenses::Column::ExpiresAt),
            (licenses::Entity, licenses::Column::GraceEndsAt),
        ])
        .column((
            plan_entitlements::Entity,
            plan_entitlements::Column::MaxRuntimeNodes,
        ))
        .expr_as(
            Expr::col((
                runtime_nodes::Entity,
                runtime_nodes::Column::HeartbeatDeadlineAt,
            )),
            "node_deadline",
        )
        .expr_as(node_count(None), "nodes_total")
        .expr_as(node_count(Some(now)), "nodes_alive")
        .from(licenses::Entity)
        .inner_join(
            plan_entitlements::Entity,
            Expr::col((plan_entitlements::Entity, plan_entitlements::Column::PlanId))
                .equals((licenses::Entity, licenses::Column::PlanId)),
        )
        .left_join(
            runtime_nodes::Entity,
            Condition::all()
                .add(
                    Expr::col((runtime_nodes::Entity, runtime_nodes::Column::LicenseId))
                        .equals((licenses::Entity, licenses::Column::Id)),
                )
                .add(
                    Expr::col((runtime_nodes::Entity, runtime_nodes::Column::Fingerprint))
                        .eq(fingerprint),
                )
                .add(
                    Expr::col((runtime_nodes::Entity, runtime_nodes::Column::Status)).eq("active"),
                ),
        )
        .and_where(Expr::col((licenses::Entity, licenses::Column::KeyHash)).eq(digest));
    query
}

/// The values of `statement_for`, in the order its SQL binds them.
fn bound_values(digest: String, fingerprint: String, now: DateTime<FixedOffset>) -> [Value; 6] {
    [
        "active".into(),
        "active".into(),
        now.into(),
        fingerprint.into(),
        "active".into(),
        digest.into(),
    ]
}

/// The statement's SQL is the same for every request on a backend; building it costs more than
/// the lookup it describes, so it is built once and only the values change.
fn sql_for(backend: DbBackend) -> &'static str {
    static POSTGRES: OnceLock<String> = OnceLock::new();
    static SQLITE: OnceLock<String> = OnceLock::new();
    let slot = match backend {
        DbBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    };
    slot.get_or_init(|| {
        backend
            .build(&statement_for(
                String::new(),
                String::new(),
                DateTime::<Utc>::UNIX_EPOCH.into(),
            ))
            .sql
    })
}

/// PostgreSQL's statement for many keys at once: per key the same answer as `statement_for`,
/// tagged with the key's position (from 1) in the arrays; a key that matches nothing has no row.
/// Its lanes run it under one generic plan (`db::connect_lookup_lanes`), which assumes a
/// handful of keys: a nested loop of index probes, one per key, however many the batch holds.
const BATCH_SQL: &str = "\
SELECT w.position, l.id, l.plan_id, l.developer_id, l.state, l.product, l.expires_at, \
       l.grace_ends_at, e.max_runtime_nodes, n.heartbeat_deadline_at AS node_deadline, \
       c.nodes_total, c.nodes_alive \
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(digest, fingerprint, position) \
JOIN licenses l ON l.key_hash = w.digest \
JOIN plan_entitlements e ON e.plan_id = l.plan_id \
LEFT JOIN runtime_nodes n \
       ON n.license_id = l.id AND n.fingerprint = w.fingerprint AND n.status = 'active' \
CROSS JOIN LATERAL ( \
    SELECT COUNT(*) AS nodes_total, \
           COUNT(*) FILTER (WHERE o.heartbeat_deadline_at >= $3) AS nodes_alive \
    FROM runtime_nodes o WHERE o.license_id = l.id AND o.status = 'active') c";

fn batch_statement(
    backend: DbBackend,
    digests: Vec<String>,
    fingerprints: Vec<String>,
    now: DateTime<Utc>,
) -> Statement {
    Statement::from_sql_and_values(
        backend,
        BATCH_SQL,
        [digests.into(), fingerprints.into(), now.into()],
    )
}

/// Where validations find their row: batched on PostgreSQL, one statement each on SQLite
/// (an embedded file has no round trip to save).
#[derive(Clone)]
pub enum LicenseLookup {
    Batched(LookupBatcher),
    Direct(DatabaseConnection),
}

impl LicenseLookup {
    /// Validations share statements over `lanes_db`, at most `max_batch` keys in each.
    pub fn batched(
        lanes_db: DatabaseConnection,
        clock: Clock,
        lanes: usize,
        max_batch: usize,
    ) -> Self {
        Self::Batched(LookupBatcher::start(lanes_db, clock, lanes, max_batch))
    }

    pub(super) async fn row(
        &self,
        digest: String,
        fingerprint: String,
        now: DateTime<Utc>,
    ) -> AppResult<Option<ValidationRow>> {
        match self {
            Self::Batched(batcher) => batcher.lookup(digest, fingerprint).await,
            Self::Direct(db) => {
                let backend = db.get_database_backend();
                let statement = Statement::from_sql_and_values(
                    backend,
                    sql_for(backend),
                    bound_values(digest, fingerprint, now.into()),
                );
                Ok(ValidationRow::find_by_statement(statement).one(db).await?)
            }
        }
    }
}

/// What a lane sends back for one key: its row, if the key matched a license, or why the
/// batch failed.
type Answer = Result<Option<ValidationRow>, DbErr>;

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
    pub fn start(db: DatabaseConnection, clock: Clock, lanes: usize, max_batch: usize) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..lanes.max(1) {
            let lane = lane(db.clone(), clock.clone(), waiting.clone(), max_batch.max(1));
            tokio::spawn(lane);
        }
        Self { queue }
    }

    /// The row for one key digest and fingerprint, looked up together with whatever other
    /// validations are waiting.
    async fn lookup(
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
        Ok(answer.await.map_err(|_| lost())??)
    }
}

async fn lane(
    db: DatabaseConnection,
    clock: Clock,
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
        answer(&db, clock.now(), &mut batch).await;
    }
}

/// Looks the batch up in one statement and answers (and empties) it. If the statement fails,
/// each validation is looked up again on its own, so that whatever failed it fails alone and
/// the others still get their answers.
async fn answer(db: &DatabaseConnection, now: DateTime<Utc>, batch: &mut Vec<Waiting>) {
    match lookup_many(db, now, batch).await {
        Ok(rows) => {
            for (waiting, row) in batch.drain(..).zip(rows) {
                // A caller that went away no longer needs its answer.
                let _ = waiting.reply.send(Ok(row));
            }
        }
        // The database is not there: each caller is told so (SERVICE_UNAVAILABLE), and
        // asking again key by key would only wait on it once per key.
        Err(err) if AppError::from(err.clone()).code() == Code::ServiceUnavailable => {
            for waiting in batch.drain(..) {
                let _ = waiting.reply.send(Err(err.clone()));
            }
        }
        Err(err) => {
            tracing::warn!(error = ?err, keys = batch.len(), "batched license lookup failed; looking each key up alone");
            for waiting in batch.drain(..) {
                let alone = std::slice::from_ref(&waiting);
                let answer = lookup_many(db, now, alone)
                    .await
                    .map(|mut rows| rows.pop().flatten());
                // Each caller maps (and logs) its own failure.
                let _ = waiting.reply.send(answer);
            }
        }
    }
}

/// One statement for all of `waiting`: a row (or none) for each, in their order.
async fn lookup_many(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    waiting: &[Waiting],
) -> Result<Vec<Option<ValidationRow>>, sea_orm::DbErr> {
    let (digests, fingerprints) = waiting
        .iter()
        .map(|w| (w.digest.clone(), w.fingerprint.clone()))
        .unzip();
    let statement = batch_statement(db.get_database_backend(), digests, fingerprints, now);
    let mut rows: Vec<Option<ValidationRow>> = (0..waiting.len()).map(|_| None).collect();
    for result in db.query_all_raw(statement).await? {
        let position: i64 = result.try_get("", "position")?;
        let row = ValidationRow::from_query_result(&result, "")?;
        if let Some(slot) = usize::try_from(position - 1)
            .ok()
            .and_then(|i| rows.get_mut(i))
        {
            *slot = Some(row);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_sql_and_the_bound_values_are_what_the_builder_makes() {
        let now: DateTime<FixedOffset> = Clock::default().now().into();
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let built = backend.build(&statement_for("d1g".into(), "fp".into(), now));
            assert_eq!(built.sql, sql_for(backend));
            let expected = built.values.expect("values").0;
            assert_eq!(
                expected,
                bound_values("d1g".into(), "fp".into(), now).to_vec()
            );
        }
    }
}
