//! The revenue report: succeeded transactions, revenue and unique paying customers per month
//! and currency, summed by the database over the transactions' time index (a refunded payment
//! no longer counts).

use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

/// The longest span a report covers: ten years of months.
const MAX_SPAN_DAYS: i64 = 3_660;

pub struct RevenueRow {
    pub period_start: NaiveDate,
    pub currency: String,
    pub transactions: i64,
    pub revenue_minor: i64,
    pub paying_customers: i64,
}

pub async fn monthly(
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<RevenueRow>> {
    actor.require_admin()?;
    if to <= from {
        return Err(AppError::validation("to", "must be after `from`"));
    }
    if (to - from).num_days() > MAX_SPAN_DAYS {
        return Err(AppError::validation(
            "to",
            "a report covers ten years at most",
        ));
    }
    let db = &actor.app.db;
    let backend = db.get_database_backend();
    let (month, placeholders) = match backend {
        DbBackend::Postgres => (
            "to_char(date_trunc('month', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-01')",
            ("$1", "$2"),
        ),
        _ => ("strftime('%Y-%m-01', occurred_at)", ("?", "?")),
    };
    let sql = format!(
        "SELECT {month} AS period, currency, COUNT(*) AS transactions, \
                CAST(SUM(amount_minor) AS BIGINT) AS revenue, \
                COUNT(DISTINCT developer_id) AS payers \
         FROM transactions \
         WHERE status = 'succeeded' AND occurred_at >= {} AND occurred_at < {} \
         GROUP BY 1, 2 ORDER BY 1, 2",
        placeholders.0, placeholders.1
    );
    let values: [Value; 2] = [from.fixed_offset().into(), to.fixed_offset().into()];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.into_iter()
        .map(|row| {
            let period: String = row.try_get("", "period")?;
            let period_start = NaiveDate::parse_from_str(&period, "%Y-%m-%d")
                .map_err(|err| AppError::internal(anyhow::anyhow!("month {period:?}: {err}")))?;
            Ok(RevenueRow {
                period_start,
                currency: row.try_get("", "currency")?,
                transactions: row.try_get("", "transactions")?,
                revenue_minor: row.try_get("", "revenue")?,
                paying_customers: row.try_get("", "payers")?,
            })
        })
        .collect()
}
