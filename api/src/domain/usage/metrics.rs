//! Metrics: what is metered, how its events fold into a roll-up, and which entitlement bounds it.

use crate::auth::Actor;
use crate::domain::entitlements::catalogue;
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, Event, UnitOfWork};
use crate::vocabulary::text_enum;
use entity::{prelude::*, usage_metrics};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde_json::json;
use std::collections::HashMap;

text_enum!(
    /// How a metric's events fold into one value per period.
    pub enum Aggregation {
        /// Counters: values add up.
        Sum => "sum",
        /// The highest value seen.
        Max => "max",
        /// Gauges: the value with the latest timestamp.
        Latest => "latest",
        /// How many distinct `uniqueValue`s were seen.
        UniqueCount => "unique_count",
    }
);

impl Aggregation {
    /// Whether a period's value is the sum of what lands in it.
    pub fn adds_up(self) -> bool {
        matches!(self, Self::Sum | Self::UniqueCount)
    }
}

text_enum!(
    /// The period a quota counts over: a day per instance, or a month per developer.
    pub enum Granularity {
        Day => "day",
        Month => "month",
    }
);

#[derive(Clone, Debug)]
pub struct Metric {
    pub code: String,
    pub name: String,
    pub aggregation: Aggregation,
    pub unit: String,
    /// The entitlement limit that bounds it, and over which period.
    pub quota: Option<(String, Granularity)>,
}

impl TryFrom<usage_metrics::Model> for Metric {
    type Error = DbErr;

    /// A stored value the code does not know is a fault, reported like any database fault.
    fn try_from(m: usage_metrics::Model) -> Result<Self, DbErr> {
        let unknown =
            |what: &str, raw: &str| DbErr::Custom(format!("unknown stored {what}: {raw:?}"));
        let aggregation = Aggregation::parse(&m.aggregation)
            .ok_or_else(|| unknown("aggregation", &m.aggregation))?;
        let period = m
            .quota_period
            .as_deref()
            .map(|raw| Granularity::parse(raw).ok_or_else(|| unknown("granularity", raw)))
            .transpose()?;
        Ok(Self {
            aggregation,
            code: m.code,
            name: m.name,
            unit: m.unit,
            quota: m.quota_key.zip(period),
        })
    }
}

pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Metric>, DbErr> {
    UsageMetrics::find()
        .order_by_asc(usage_metrics::Column::Code)
        .all(conn)
        .await?
        .into_iter()
        .map(Metric::try_from)
        .collect()
}

/// Every metric; signed-in callers only.
pub async fn list(actor: &Actor) -> AppResult<Vec<Metric>> {
    actor.require_user()?;
    Ok(all(&actor.app.db).await?)
}

pub async fn by_codes(
    conn: &impl ConnectionTrait,
    codes: impl IntoIterator<Item = String>,
) -> AppResult<HashMap<String, Metric>> {
    let rows = UsageMetrics::find()
        .filter(usage_metrics::Column::Code.is_in(codes))
        .all(conn)
        .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        found.insert(row.code.clone(), Metric::try_from(row)?);
    }
    Ok(found)
}

pub struct NewMetric {
    pub code: String,
    pub name: String,
    pub aggregation: Aggregation,
    pub unit: String,
    pub quota_key: Option<String>,
    pub quota_period: Option<Granularity>,
}

fn valid_code(code: &str) -> bool {
    (2..=64).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Adds a custom metric; admins only. A quota names a limit entitlement and its period.
pub async fn define(actor: &Actor, input: NewMetric) -> AppResult<Metric> {
    actor.require_admin()?;
    if !valid_code(&input.code) {
        return Err(AppError::validation(
            "code",
            "2 to 64 lower-case letters, digits or underscores, starting with a letter",
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let quota = match (input.quota_key, input.quota_period) {
        (None, None) => None,
        (Some(key), Some(period)) => {
            if catalogue::kind_of(&key) != Some(catalogue::EntitlementKind::Limit) {
                return Err(AppError::validation(
                    "quotaKey",
                    "must name a limit entitlement",
                ));
            }
            Some((key, period))
        }
        _ => {
            return Err(AppError::validation(
                "quotaPeriod",
                "a quota needs both quotaKey and quotaPeriod",
            ));
        }
    };
    let mut uow = UnitOfWork::begin(actor).await?;
    if UsageMetrics::find_by_id(input.code.clone())
        .one(&*uow)
        .await?
        .is_some()
    {
        return Err(ConflictReason::MetricExists.into());
    }
    let row = usage_metrics::ActiveModel {
        code: Set(input.code.clone()),
        name: Set(name.to_owned()),
        aggregation: Set(input.aggregation.as_str().to_owned()),
        unit: Set(input.unit.trim().to_owned()),
        quota_key: Set(quota.as_ref().map(|(k, _)| k.clone())),
        quota_period: Set(quota.as_ref().map(|(_, p)| p.as_str().to_owned())),
        created_at: Set(actor.now.into()),
    }
    .insert(&*uow)
    .await?;
    // Metrics are keyed by code, not id: the audit row names the code in its metadata.
    let kind = "usage.metric_defined";
    let metadata = json!({
        "code": row.code,
        "aggregation": row.aggregation,
        "quotaKey": row.quota_key,
        "quotaPeriod": row.quota_period,
    });
    let event = Event {
        kind: kind.to_owned(),
        entity_id: uuid::Uuid::nil(),
        developer_id: None,
        data: json!({ "code": row.code }),
    };
    uow.record(
        Change::new(kind, "usage_metric", uuid::Uuid::nil())
            .metadata(metadata)
            .publish(event),
    )
    .await?;
    uow.commit().await?;
    Ok(Metric::try_from(row)?)
}
