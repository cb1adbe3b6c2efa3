//! Hard quotas: which roll-up rows an entitlement limit binds, the refusal when one would be
//! crossed, and the 80% / 100% threshold events.

use super::metrics::Metric;
use super::rollup::{Change, Landed, RollupKey, quota_scope};
use crate::auth::Actor;
use crate::domain::entitlements::resolve::Entitlements;
use crate::error::{AppError, AppResult};
use crate::events::{Event, UnitOfWork};
use entity::prelude::*;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// Percentages of a limit whose crossing is announced.
pub const THRESHOLDS: [i64; 2] = [80, 100];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    pub limit: i64,
    /// False when the plan allows overage: the limit is announced, not enforced.
    pub enforce: bool,
}

/// The limit on each changed row that a quota binds: the instance's day for daily quotas,
/// the developer's month for monthly ones.
pub fn bounds(
    changes: &BTreeMap<RollupKey, Change>,
    metrics: &HashMap<String, Metric>,
    entitlements: &HashMap<Uuid, Arc<Entitlements>>,
) -> HashMap<RollupKey, Bound> {
    let mut bounds = HashMap::new();
    for (key, change) in changes {
        let Some((entitlement, period)) = metrics.get(&key.metric).and_then(|m| m.quota.as_ref())
        else {
            continue;
        };
        if key.granularity != *period || key.scope != quota_scope(*period) {
            continue;
        }
        let Some(granted) = entitlements.get(&change.developer_id) else {
            continue;
        };
        if let Some(limit) = granted.limit(entitlement) {
            bounds.insert(
                key.clone(),
                Bound {
                    limit,
                    enforce: !granted.flag("allow_overage"),
                },
            );
        }
    }
    bounds
}

/// QUOTA_EXCEEDED for a row, with what is stored now and the first event that would cross.
pub async fn refusal(
    conn: &impl ConnectionTrait,
    key: &RollupKey,
    change: &Change,
    bound: &Bound,
) -> AppResult<AppError> {
    let current = UsageRollups::find_by_id((
        key.scope.as_str().to_owned(),
        key.scope_id,
        key.metric.clone(),
        key.granularity.as_str().to_owned(),
        key.bucket,
    ))
    .one(conn)
    .await?
    .map_or(0, |row| row.value);
    let mut running = current;
    let crossing = change.events.iter().find_map(|&(index, value)| {
        running = if change.aggregation.adds_up() {
            running.saturating_add(value)
        } else {
            value
        };
        (running > bound.limit).then_some(index)
    });
    Ok(AppError::QuotaExceeded {
        metric: key.metric.clone(),
        limit: bound.limit,
        current,
        index: crossing,
    })
}

/// Tells the developer's `usageEvents` subscribers that a batch was refused at its quota, in a
/// unit of work of its own (the refused one rolled back): at most once a minute per developer
/// and metric across gateways, so a client retrying in a loop floods neither them nor the log.
pub async fn announce_refusal(actor: &Actor, refused: &AppError, developer: Option<Uuid>) {
    let (
        AppError::QuotaExceeded {
            metric,
            limit,
            current,
            ..
        },
        Some(developer),
    ) = (refused, developer)
    else {
        return;
    };
    let once_a_minute = vec![format!("{developer}:{metric}")];
    if actor
        .app
        .quota_notices
        .attempt(once_a_minute)
        .await
        .is_err()
    {
        return;
    }
    let announced = async {
        let mut uow = UnitOfWork::begin(actor).await?;
        uow.publish(Event {
            kind: QUOTA_EXCEEDED.into(),
            entity_id: developer,
            developer_id: Some(developer),
            data: json!({ "metric": metric, "limit": limit, "current": current }),
        });
        uow.commit().await
    }
    .await;
    if let Err(err) = announced {
        tracing::warn!(error = ?err, "a refused usage batch could not be announced");
    }
}

pub const QUOTA_EXCEEDED: &str = "usage.quota_exceeded";

/// Whether moving from `before` to `after` crosses `percent` of `limit`.
fn crosses(before: i64, after: i64, limit: i64, percent: i64) -> bool {
    let mark = i128::from(limit) * i128::from(percent);
    i128::from(before) * 100 < mark && i128::from(after) * 100 >= mark
}

/// One `usage.threshold_crossed` event per bound row and threshold this batch crossed.
pub fn crossings(
    landed: &[Landed],
    changes: &BTreeMap<RollupKey, Change>,
    bounds: &HashMap<RollupKey, Bound>,
) -> AppResult<Vec<Event>> {
    let mut events = Vec::new();
    for row in landed {
        let key = row.key()?;
        let (Some(bound), Some(change)) = (bounds.get(&key), changes.get(&key)) else {
            continue;
        };
        for percent in THRESHOLDS {
            if crosses(row.previous_value, row.value, bound.limit, percent) {
                events.push(Event {
                    kind: "usage.threshold_crossed".into(),
                    entity_id: key.scope_id,
                    developer_id: Some(change.developer_id),
                    data: json!({
                        "metric": key.metric,
                        "scope": key.scope.as_str(),
                        "period": key.granularity.as_str(),
                        "periodStart": key.bucket,
                        "threshold": percent,
                        "limit": bound.limit,
                        "current": row.value,
                    }),
                });
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::crosses;

    #[test]
    fn a_threshold_is_crossed_once_on_the_way_up() {
        assert!(crosses(79, 80, 100, 80));
        assert!(!crosses(80, 90, 100, 80), "already past");
        assert!(crosses(0, 100, 100, 80));
        assert!(crosses(0, 100, 100, 100), "reaching the limit is 100%");
        assert!(!crosses(0, 99, 100, 100));
        assert!(!crosses(0, 0, 0, 80), "nothing moves at a zero limit");
    }
}
