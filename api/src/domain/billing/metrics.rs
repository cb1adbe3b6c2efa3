//! `subscriptionMetrics`: how many subscriptions stand where now, how many were cancelled in a
//! period, and the monthly recurring revenue of the active ones (their license's plan price,
//! a yearly one counted a twelfth a month), per currency (lower-case, as invoices have it).
//! Counted by the database.

use super::model::SubscriptionStatus;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

pub struct Metrics {
    pub active: i64,
    pub trialing: i64,
    pub past_due: i64,
    /// Cancelled within the period.
    pub churned: i64,
    /// (currency, monthly recurring revenue in minor units).
    pub mrr: Vec<(String, i64)>,
}

pub async fn subscription_metrics(
    actor: &Actor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Metrics> {
    actor.require_admin()?;
    if to <= from {
        return Err(AppError::validation("to", "must be after `from`"));
    }
    let db = &actor.app.db;
    let backend = db.get_database_backend();
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let count = |status: &str| format!("COUNT(*) FILTER (WHERE status = '{status}')");
    let counts = format!(
        "SELECT {active} AS active, {trialing} AS trialing, \
                COUNT(*) FILTER (WHERE status IN ('past_due', 'unpaid')) AS past_due, \
                COUNT(*) FILTER (WHERE status = 'canceled' AND provider_updated_at >= {p1} \
                                 AND provider_updated_at < {p2}) AS churned \
         FROM subscriptions",
        active = count(SubscriptionStatus::Active.as_str()),
        trialing = count(SubscriptionStatus::Trialing.as_str()),
    );
    let values: [Value; 2] = [from.fixed_offset().into(), to.fixed_offset().into()];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, counts, values))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no counts")))?;
    let mrr_sql = "SELECT LOWER(p.currency) AS currency, \
                CAST(SUM(CASE WHEN p.billing_interval = 'year' THEN p.price_minor / 12 \
                              ELSE p.price_minor END) AS BIGINT) AS mrr \
         FROM subscriptions s JOIN licenses l ON l.id = s.license_id JOIN plans p ON p.id = l.plan_id \
         WHERE s.status = 'active' GROUP BY 1 ORDER BY 1";
    let mrr = db
        .query_all_raw(Statement::from_string(backend, mrr_sql))
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "currency")?, row.try_get("", "mrr")?)))
        .collect::<AppResult<Vec<(String, i64)>>>()?;
    Ok(Metrics {
        active: row.try_get("", "active")?,
        trialing: row.try_get("", "trialing")?,
        past_due: row.try_get("", "past_due")?,
        churned: row.try_get("", "churned")?,
        mrr,
    })
}
