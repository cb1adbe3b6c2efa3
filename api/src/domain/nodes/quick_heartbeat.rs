//! The usual heartbeat in one statement on PostgreSQL: a live node of the license this key
//! opens moves its deadline on by the plan's window, and the row comes back with its license.
//! Anything else (an unknown key or fingerprint, a node past its deadline) finds no row and
//! takes the full path, which knows what to answer and what to audit.

use super::service::{CheckIn, standing};
use crate::auth::Actor;
use crate::error::AppResult;
use entity::{licenses, runtime_nodes};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Iterable, Statement, Value};
use std::sync::OnceLock;

const NODE: &str = "n_";
const LICENSE: &str = "l_";

/// Every column of `table`, aliased with `prefix` so both models can be read from one row.
fn returning<C: Iterable + sea_orm::IdenStatic>(table: &str, prefix: &str) -> Vec<String> {
    C::iter()
        .map(|column| {
            let name = column.as_str();
            format!("{table}.{name} AS \"{prefix}{name}\"")
        })
        .collect()
}

fn sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let columns = [
            returning::<runtime_nodes::Column>("n", NODE),
            returning::<licenses::Column>("l", LICENSE),
        ]
        .concat()
        .join(", ");
        format!(
            "UPDATE runtime_nodes AS n \
             SET last_check_in_at = $1, \
                 heartbeat_deadline_at = $1 + make_interval(secs => GREATEST(e.heartbeat_window_seconds, 1)), \
                 updated_at = $1, \
                 version = COALESCE($4, n.version) \
             FROM licenses AS l JOIN plan_entitlements AS e ON e.plan_id = l.plan_id \
             WHERE l.key_hash = $2 AND n.license_id = l.id AND n.fingerprint = $3 \
               AND n.status = 'active' AND n.heartbeat_deadline_at >= $1 \
             RETURNING {columns}"
        )
    })
}

/// The heartbeat's answer when the node was alive; `None` sends the caller down the full path.
pub async fn check_in(
    actor: &Actor,
    key: &str,
    fingerprint: &str,
    version: Option<&str>,
) -> AppResult<Option<CheckIn>> {
    let (app, now) = (&actor.app, actor.now);
    if app.db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let values: [Value; 4] = [
        now.fixed_offset().into(),
        app.license_keys.digest(key).into(),
        fingerprint.into(),
        version.map(str::to_owned).into(),
    ];
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql(), values);
    let Some(row) = app.db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let node = runtime_nodes::Model::from_query_result(&row, NODE)?;
    let license = licenses::Model::from_query_result(&row, LICENSE)?;
    Ok(Some(CheckIn {
        code: standing(&license, now)?,
        license: Some(license),
        node: Some(node),
    }))
}
