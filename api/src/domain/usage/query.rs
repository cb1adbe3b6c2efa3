//! Reading usage: a roll-up series, this period's totals against their limits, and the
//! instances nearing a quota.

use super::metrics::{self, Granularity, Metric};
use super::rollup::{Scope, bucket, quota_scope};
use crate::auth::{Actor, Audience};
use crate::domain::entitlements::resolve::Entitlements;
use crate::domain::entitlements::service::subject as entitlement_subject;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{instances, prelude::*, usage_rollups};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// Whose usage: an instance or a developer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    pub scope: Scope,
    pub id: Uuid,
}

/// Resolves and authorizes the subject a query names: exactly one of the two ids.
pub async fn subject(
    actor: &Actor,
    instance_id: Option<Uuid>,
    developer_id: Option<Uuid>,
) -> AppResult<(Subject, Uuid)> {
    match (instance_id, developer_id) {
        (Some(id), None) => {
            let instance = Instances::find_by_id(id)
                .one(&actor.app.db)
                .await?
                .ok_or(AppError::NotFound("instance"))?;
            let audience = Audience::Instance {
                id,
                developer: instance.developer_id,
            };
            if !actor.may_see(audience) {
                return Err(AppError::NotFound("instance"));
            }
            Ok((
                Subject {
                    scope: Scope::Instance,
                    id,
                },
                instance.developer_id,
            ))
        }
        (None, Some(id)) => {
            if !actor.may_see(Audience::Developer(id)) {
                return Err(AppError::NotFound("developer"));
            }
            Ok((
                Subject {
                    scope: Scope::Developer,
                    id,
                },
                id,
            ))
        }
        _ => Err(AppError::validation(
            "instanceId",
            "name exactly one of instanceId and developerId",
        )),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub period_start: NaiveDate,
    pub value: i64,
}

/// The series of one metric for many subjects at once, oldest first (one statement).
pub async fn series_many(
    conn: &impl ConnectionTrait,
    scope: Scope,
    ids: &[Uuid],
    metric: &str,
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<Uuid, Vec<Point>>, sea_orm::DbErr> {
    let rows = UsageRollups::find()
        .filter(usage_rollups::Column::ScopeType.eq(scope.as_str()))
        .filter(usage_rollups::Column::ScopeId.is_in(ids.iter().copied()))
        .filter(usage_rollups::Column::MetricCode.eq(metric))
        .filter(usage_rollups::Column::Granularity.eq(granularity.as_str()))
        .filter(usage_rollups::Column::Bucket.between(from, to))
        .order_by_asc(usage_rollups::Column::Bucket)
        .all(conn)
        .await?;
    let mut series: HashMap<Uuid, Vec<Point>> = HashMap::new();
    for row in rows {
        series.entry(row.scope_id).or_default().push(Point {
            period_start: row.bucket,
            value: row.value,
        });
    }
    Ok(series)
}

/// One metric's series for the instance or developer named (exactly one of the two).
pub async fn series(
    actor: &Actor,
    instance_id: Option<Uuid>,
    developer_id: Option<Uuid>,
    metric: &str,
    granularity: Granularity,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> AppResult<Vec<Point>> {
    let (subject, _) = subject(actor, instance_id, developer_id).await?;
    let (from, to) = range(granularity, from, to, actor.now)?;
    let ids = [subject.id];
    let mut found = series_many(
        &actor.app.db,
        subject.scope,
        &ids,
        metric,
        granularity,
        from,
        to,
    )
    .await?;
    Ok(found.remove(&subject.id).unwrap_or_default())
}

/// The range a series covers: `from`'s period to `to`'s, defaulting to the last 30 days or
/// 12 months, and at most 400 points.
pub fn range(
    granularity: Granularity,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<(NaiveDate, NaiveDate)> {
    let to = to.unwrap_or(now);
    let span = match granularity {
        Granularity::Day => chrono::Duration::days(30),
        Granularity::Month => chrono::Duration::days(365),
    };
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_signed(span)
            .ok_or_else(|| AppError::validation("to", "too early to count back from"))?,
    };
    if from > to {
        return Err(AppError::validation("from", "must not be after to"));
    }
    let days = (to - from).num_days();
    let too_long = match granularity {
        Granularity::Day => days > 400,
        Granularity::Month => days > 400 * 31,
    };
    if too_long {
        return Err(AppError::validation(
            "from",
            "at most 400 periods at a time",
        ));
    }
    Ok((bucket(granularity, from), bucket(granularity, to)))
}

/// One metric's total for the current period.
#[derive(Clone, Debug)]
pub struct Current {
    pub metric: Metric,
    pub granularity: Granularity,
    pub period_start: NaiveDate,
    pub value: i64,
    /// Only where a quota binds this subject's period; None is unlimited or unmetered.
    pub limit: Option<i64>,
    pub overage_allowed: bool,
}

impl Current {
    pub fn remaining(&self) -> Option<i64> {
        self.limit.map(|l| Ord::max(l - self.value, 0))
    }
}

/// This period's figures for the instance or developer named; with neither, the caller's own
/// developer account.
pub async fn current_usage(
    actor: &Actor,
    instance_id: Option<Uuid>,
    developer_id: Option<Uuid>,
) -> AppResult<Vec<Current>> {
    let (subject, owner) = current_subject(actor, instance_id, developer_id).await?;
    let app = &actor.app;
    let entitlements = app.entitlements.get(&app.db, owner, actor.now).await?;
    current(&app.db, subject, &entitlements, actor.now).await
}

/// What `currentUsage` reads (an instance, or a developer: the caller's own without
/// arguments), checked against the caller, and the developer whose usage it is.
async fn current_subject(
    actor: &Actor,
    instance_id: Option<Uuid>,
    developer_id: Option<Uuid>,
) -> AppResult<(Subject, Uuid)> {
    let developer_id = match (instance_id, developer_id) {
        (None, None) => Some(entitlement_subject(actor, None).await?),
        (_, developer_id) => developer_id,
    };
    subject(actor, instance_id, developer_id).await
}

/// The developer whose usage `currentUsage` with these arguments reads, if the caller may.
pub async fn current_usage_owner(
    actor: &Actor,
    instance_id: Option<Uuid>,
    developer_id: Option<Uuid>,
) -> AppResult<Uuid> {
    Ok(current_subject(actor, instance_id, developer_id).await?.1)
}

/// Today's figures for an instance, this month's for a developer: every metric, with the
/// quota that binds at that level.
async fn current(
    db: &impl ConnectionTrait,
    subject: Subject,
    entitlements: &Entitlements,
    now: DateTime<Utc>,
) -> AppResult<Vec<Current>> {
    let granularity = match subject.scope {
        Scope::Instance => Granularity::Day,
        Scope::Developer => Granularity::Month,
    };
    let period_start = bucket(granularity, now);
    let values: HashMap<String, i64> = UsageRollups::find()
        .filter(usage_rollups::Column::ScopeType.eq(subject.scope.as_str()))
        .filter(usage_rollups::Column::ScopeId.eq(subject.id))
        .filter(usage_rollups::Column::Granularity.eq(granularity.as_str()))
        .filter(usage_rollups::Column::Bucket.eq(period_start))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.metric_code, row.value))
        .collect();
    Ok(metrics::all(db)
        .await?
        .into_iter()
        .map(|metric| {
            let limit = metric
                .quota
                .as_ref()
                .filter(|(_, period)| {
                    *period == granularity && quota_scope(*period) == subject.scope
                })
                .and_then(|(key, _)| entitlements.limit(key));
            Current {
                value: values.get(&metric.code).copied().unwrap_or(0),
                metric,
                granularity,
                period_start,
                limit,
                overage_allowed: entitlements.flag("allow_overage"),
            }
        })
        .collect())
}

/// An instance at or past a share of a daily quota today.
#[derive(Clone, Debug)]
pub struct NearQuota {
    pub instance: instances::Model,
    pub metric: String,
    pub value: i64,
    pub limit: i64,
}

/// The seed's monitoring query: today's instance roll-ups at or past `threshold` of their
/// limit, most used first. Admins only.
pub async fn instances_approaching(actor: &Actor, threshold: f64) -> AppResult<Vec<NearQuota>> {
    let (app, now) = (&actor.app, actor.now);
    actor.require_admin()?;
    if !(0.0..=10.0).contains(&threshold) {
        return Err(AppError::validation("threshold", "between 0 and 10"));
    }
    let rows = UsageRollups::find()
        .filter(usage_rollups::Column::Granularity.eq(Granularity::Day.as_str()))
        .filter(usage_rollups::Column::Bucket.eq(bucket(Granularity::Day, now)))
        .filter(usage_rollups::Column::ScopeType.eq(Scope::Instance.as_str()))
        .filter(usage_rollups::Column::QuotaLimit.is_not_null())
        .filter(
            Expr::col(usage_rollups::Column::Value)
                .gte(Expr::col(usage_rollups::Column::QuotaLimit).mul(threshold)),
        )
        // The most used first, a page at most.
        .order_by_desc(Expr::cust("value * 1.0 / NULLIF(quota_limit, 0)"))
        .limit(app.config.limits.max_page_size as u64)
        .all(&app.db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.scope_id).collect();
    let instances: HashMap<Uuid, instances::Model> = Instances::find()
        .filter(instances::Column::Id.is_in(ids))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let mut near: Vec<NearQuota> = rows
        .into_iter()
        .filter_map(|row| {
            Some(NearQuota {
                instance: instances.get(&row.scope_id)?.clone(),
                metric: row.metric_code,
                value: row.value,
                limit: row.quota_limit?,
            })
        })
        .collect();
    near.sort_by(|a, b| {
        let share = |n: &NearQuota| n.value as f64 / Ord::max(n.limit, 1) as f64;
        share(b).total_cmp(&share(a))
    });
    Ok(near)
}
