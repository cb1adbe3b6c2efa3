//! Metrics: what is metered, how its events fold into a roll-up, and which entitlement bounds it.

use crate::auth::{Caller, RequestMeta};
use crate::domain::audit::service::{AuditEntry, record};
use crate::domain::entitlements::catalogue;
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{prelude::*, usage_metrics};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use std::collections::HashMap;

/// How a metric's events fold into one value per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
pub enum Aggregation {
    /// Counters: values add up.
    Sum,
    /// The highest value seen.
    Max,
    /// Gauges: the value with the latest timestamp.
    Latest,
    /// How many distinct `uniqueValue`s were seen.
    UniqueCount,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Max => "max",
            Self::Latest => "latest",
            Self::UniqueCount => "unique_count",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Sum, Self::Max, Self::Latest, Self::UniqueCount]
            .into_iter()
            .find(|a| a.as_str() == raw)
    }

    /// Whether a period's value is the sum of what lands in it.
    pub fn adds_up(self) -> bool {
        matches!(self, Self::Sum | Self::UniqueCount)
    }
}

/// The period a quota counts over: a day per instance, or a month per developer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
pub enum Granularity {
    Day,
    Month,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Metric {
    pub code: String,
    pub name: String,
    pub aggregation: Aggregation,
    pub unit: String,
    /// The entitlement limit that bounds it, and over which period.
    pub quota: Option<(String, Granularity)>,
}

impl From<usage_metrics::Model> for Metric {
    fn from(m: usage_metrics::Model) -> Self {
        let quota = m
            .quota_key
            .zip(m.quota_period.as_deref().and_then(Granularity::parse));
        Self {
            aggregation: Aggregation::parse(&m.aggregation).unwrap_or(Aggregation::Sum),
            code: m.code,
            name: m.name,
            unit: m.unit,
            quota,
        }
    }
}

pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Metric>, sea_orm::DbErr> {
    Ok(UsageMetrics::find()
        .order_by_asc(usage_metrics::Column::Code)
        .all(conn)
        .await?
        .into_iter()
        .map(Metric::from)
        .collect())
}

pub async fn by_codes(
    conn: &impl ConnectionTrait,
    codes: impl IntoIterator<Item = String>,
) -> AppResult<HashMap<String, Metric>> {
    Ok(UsageMetrics::find()
        .filter(usage_metrics::Column::Code.is_in(codes))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.code.clone(), Metric::from(m)))
        .collect())
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
pub async fn define(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    input: NewMetric,
    now: DateTime<Utc>,
) -> AppResult<Metric> {
    caller.require_admin()?;
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
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    if UsageMetrics::find_by_id(input.code.clone())
        .one(&*uow)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict {
            reason: "METRIC_EXISTS",
            message: "a metric with this code exists".into(),
        });
    }
    let row = usage_metrics::ActiveModel {
        code: Set(input.code.clone()),
        name: Set(name.to_owned()),
        aggregation: Set(input.aggregation.as_str().to_owned()),
        unit: Set(input.unit.trim().to_owned()),
        quota_key: Set(quota.as_ref().map(|(k, _)| k.clone())),
        quota_period: Set(quota.as_ref().map(|(_, p)| p.as_str().to_owned())),
        created_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: "usage.metric_defined",
            entity_type: "usage_metric",
            entity_id: uuid::Uuid::nil(),
            owner_id: None,
            metadata: json!({
                "code": row.code,
                "aggregation": row.aggregation,
                "quotaKey": row.quota_key,
                "quotaPeriod": row.quota_period,
            }),
        },
    )
    .await?;
    uow.publish(crate::events::DomainEvent {
        kind: "usage.metric_defined".into(),
        entity_id: uuid::Uuid::nil(),
        developer_id: None,
        data: json!({ "code": row.code }),
        occurred_at: now,
    });
    uow.commit().await?;
    Ok(Metric::from(row))
}
