//! `totalCount` at a bounded cost. Matching rows are counted exactly up to a limit; past it,
//! PostgreSQL answers with its planner's estimate for the same filter, marked as an estimate,
//! so counting a million rows costs what counting the limit does. SQLite, the development
//! backend, has no estimate and counts on.

use crate::error::{AppError, AppResult};
use crate::state::Shared;
use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, Query, SelectStatement};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QuerySelect, QueryTrait, Select, Statement,
};

/// How many nodes match, and whether that is the planner's estimate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub value: u64,
    pub estimated: bool,
}

/// Counts the rows `query` matches: exactly up to the configured limit, estimated beyond.
pub async fn count<E: EntityTrait>(app: &Shared, query: Select<E>) -> AppResult<Count> {
    count_within(&app.db, query, app.config.limits.exact_count_limit).await
}

/// Whether `query` matches more than `limit` rows, reading at most one row more than that.
pub async fn exceeds<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    limit: u64,
) -> AppResult<bool> {
    Ok(count_of(conn, capped(matching_rows(query), limit)).await? > limit)
}

/// Counts the rows `query` matches: exactly up to `exact_limit`, estimated beyond.
async fn count_within<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    exact_limit: u64,
) -> AppResult<Count> {
    let matching = matching_rows(query);
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(Count {
            value: count_of(conn, matching).await?,
            estimated: false,
        });
    }
    let exact = count_of(conn, capped(matching.clone(), exact_limit)).await?;
    if exact <= exact_limit {
        return Ok(Count {
            value: exact,
            estimated: false,
        });
    }
    Ok(Count {
        value: planner_estimate(conn, &matching)
            .await?
            .max(exact_limit.saturating_add(1)),
        estimated: true,
    })
}

/// One constant per matching row: what counting needs, and no column more.
fn matching_rows<E: EntityTrait>(query: Select<E>) -> SelectStatement {
    query.select_only().expr(Expr::val(1)).into_query()
}

/// The first `limit + 1` of them: enough to tell "more than `limit`".
fn capped(mut matching: SelectStatement, limit: u64) -> SelectStatement {
    matching.limit(limit.saturating_add(1));
    matching
}

async fn count_of(conn: &impl ConnectionTrait, matching: SelectStatement) -> AppResult<u64> {
    let statement = Query::select()
        .expr(Func::count(Expr::col(Asterisk)))
        .from_subquery(matching, Alias::new("matching"))
        .to_owned();
    let row = conn
        .query_one_raw(conn.get_database_backend().build(&statement))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a count answered no row")))?;
    let counted: i64 = row.try_get_by_index(0)?;
    Ok(counted.max(0) as u64)
}

/// The rows PostgreSQL expects the statement to answer, from its statistics.
async fn planner_estimate(
    conn: &impl ConnectionTrait,
    matching: &SelectStatement,
) -> AppResult<u64> {
    let built = DbBackend::Postgres.build(matching);
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN (FORMAT JSON) {}", built.sql),
        built.values.map(|v| v.0).unwrap_or_default(),
    );
    let row = conn
        .query_one_raw(explain)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("EXPLAIN answered no row")))?;
    let plan: serde_json::Value = row.try_get_by_index(0)?;
    let rows = plan[0]["Plan"]["Plan Rows"]
        .as_f64()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("EXPLAIN gave no row estimate")))?;
    Ok(rows.max(0.0) as u64)
}
