//! `validateLicense`, the hot path: one indexed statement answers everything — the license by
//! key digest, its plan's node limit, this fingerprint's node and the node counts. On
//! PostgreSQL one statement answers every validation waiting at that moment (`lookup_batch`).

use super::lookup_batch::LookupBatcher;
use super::verdict::{NodeFacts, ValidationCode, license_code, node_code};
use crate::error::AppResult;
use crate::state::AppState;
use chrono::{DateTime, FixedOffset, Utc};
use entity::{licenses, plan_entitlements, runtime_nodes};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Query, SelectStatement, SubQueryStatement, Value,
};
use sea_orm::{DatabaseConnection, DbBackend, FromQueryResult, Statement};
use std::sync::OnceLock;
use uuid::Uuid;

#[derive(FromQueryResult)]
pub(super) struct ValidationRow {
    id: Uuid,
    plan_id: Uuid,
    developer_id: Uuid,
    state: String,
    product: String,
    expires_at: Option<DateTime<FixedOffset>>,
    grace_ends_at: Option<DateTime<FixedOffset>>,
    max_runtime_nodes: Option<i32>,
    node_deadline: Option<DateTime<FixedOffset>>,
    nodes_total: i64,
    nodes_alive: i64,
}

/// What a validation found out about the license, for the answer.
pub struct ValidatedLicense {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub developer_id: Uuid,
    pub state: String,
    pub expires_at: Option<DateTime<Utc>>,
}

pub struct Validation {
    pub code: ValidationCode,
    /// None when the key matched nothing: an unknown and a wrong key answer alike.
    pub license: Option<ValidatedLicense>,
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
                Utc::now().into(),
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

pub(super) fn batch_statement(
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

/// `validate`, refusing (RATE_LIMITED, before any lookup) sources that have failed too often,
/// and counting this attempt if it fails.
pub async fn validate_guarded(
    app: &AppState,
    ip: Option<&str>,
    key: &str,
    fingerprint: Option<&str>,
    product: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Validation> {
    if app.guesses.refused(ip, key) {
        return Ok(Validation {
            code: ValidationCode::RateLimited,
            license: None,
        });
    }
    let found = validate(app, key, fingerprint, product, now).await?;
    if found.code == ValidationCode::NotFound {
        app.guesses.record_failure(ip, key).await;
    }
    Ok(found)
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
    pub fn batched(lanes_db: DatabaseConnection, lanes: usize, max_batch: usize) -> Self {
        Self::Batched(LookupBatcher::start(lanes_db, lanes, max_batch))
    }

    async fn row(
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

pub async fn validate(
    app: &AppState,
    key: &str,
    fingerprint: Option<&str>,
    product: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Validation> {
    let digest = app.license_keys.digest(key);
    let fingerprint_value = fingerprint.unwrap_or_default().to_owned();
    let Some(row) = app
        .license_lookup
        .row(digest, fingerprint_value, now)
        .await?
    else {
        return Ok(Validation {
            code: ValidationCode::NotFound,
            license: None,
        });
    };
    let utc = |t: Option<DateTime<FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
    let mut code = license_code(&row.state, utc(row.expires_at), utc(row.grace_ends_at), now);
    if code == ValidationCode::Valid && product.is_some_and(|p| p != row.product) {
        code = ValidationCode::ProductScopeMismatch;
    }
    if code == ValidationCode::Valid && fingerprint.is_some() {
        code = node_code(
            &NodeFacts {
                heartbeat_deadline: utc(row.node_deadline),
                nodes_total: row.nodes_total,
                nodes_alive: row.nodes_alive,
                max_nodes: row.max_runtime_nodes,
            },
            now,
        );
    }
    Ok(Validation {
        code,
        license: Some(ValidatedLicense {
            id: row.id,
            plan_id: row.plan_id,
            developer_id: row.developer_id,
            state: row.state,
            expires_at: utc(row.expires_at),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_sql_and_the_bound_values_are_what_the_builder_makes() {
        let now: DateTime<FixedOffset> = Utc::now().into();
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
