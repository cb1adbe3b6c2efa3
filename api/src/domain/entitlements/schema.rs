use super::catalogue::{self, EntitlementKind};
use super::loaders::EntitlementsByDeveloper;
use super::resolve::{EntitlementSource, Entitlements};
use super::service::{self, OverrideChange};
use crate::domain::usage::loaders::{UsageNow, UsageNowByDeveloper};
use crate::domain::usage::metrics::Granularity;
use crate::error::AppError;
use crate::graphql::context::ContextExt;
use async_graphql::{Context, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// One entitlement as it applies to a developer now.
#[derive(SimpleObject)]
pub struct Entitlement {
    /// e.g. `max_customers`, `monthly_mail_credits`, `support_level`, `feature.sso`.
    key: String,
    kind: EntitlementKind,
    /// The raw value: a number or null (unlimited) for limits, a boolean for flags, a string
    /// for settings.
    value: Json<serde_json::Value>,
    /// For limits: the ceiling; null is unlimited.
    limit: Option<i64>,
    /// For flags: whether it is on.
    enabled: Option<bool>,
    source: EntitlementSource,
    /// When an override lapses and the plan's value returns.
    override_expires_at: Option<DateTime<Utc>>,
    /// The metric that counts against this limit, where it is metered.
    metric: Option<String>,
    /// Current usage where metered: live instances for customers and workspaces, this month's
    /// total for monthly quotas, and today's busiest instance for daily (per-instance) quotas.
    used: Option<i64>,
    remaining: Option<i64>,
}

fn used(key: &str, now: &UsageNow) -> Option<(String, i64)> {
    if key == "max_customers" || key == "max_workspaces" {
        return Some(("instances".to_owned(), now.live_instances));
    }
    let metric = now
        .metrics
        .iter()
        .find(|m| m.quota.as_ref().is_some_and(|(k, _)| k == key))?;
    let (_, period) = metric.quota.as_ref()?;
    let value = match period {
        Granularity::Month => now.this_month.get(&metric.code),
        Granularity::Day => now.busiest_instance_today.get(&metric.code),
    };
    Some((metric.code.clone(), value.copied().unwrap_or(0)))
}

pub fn describe(entitlements: &Entitlements, now: &UsageNow) -> Vec<Entitlement> {
    entitlements
        .keys()
        .into_iter()
        .filter_map(|key| {
            let kind = catalogue::kind_of(key)?;
            let value = entitlements.value(key)?.clone();
            let limit = (kind == EntitlementKind::Limit)
                .then(|| entitlements.limit(key))
                .flatten();
            let metered = (kind == EntitlementKind::Limit)
                .then(|| used(key, now))
                .flatten();
            Some(Entitlement {
                key: key.to_owned(),
                kind,
                enabled: (kind == EntitlementKind::Flag).then(|| entitlements.flag(key)),
                limit,
                source: entitlements.source(key),
                override_expires_at: entitlements.overrides.get(key).and_then(|o| o.expires_at),
                metric: metered.as_ref().map(|(m, _)| m.clone()),
                used: metered.as_ref().map(|(_, u)| *u),
                remaining: metered
                    .as_ref()
                    .and_then(|(_, u)| limit.map(|l| (l - u).max(0))),
                value: Json(value),
            })
        })
        .collect()
}

/// A developer's entitlements through the loaders: cached values, batched usage.
pub async fn load_for(ctx: &Context<'_>, developer_id: Uuid) -> Result<Vec<Entitlement>> {
    let entitlements: Arc<Entitlements> = ctx
        .loader::<EntitlementsByDeveloper>()?
        .load_one(developer_id)
        .await?
        .ok_or(AppError::NotFound("developer"))?;
    Ok(describe(
        &entitlements,
        &usage_now(ctx, developer_id).await?,
    ))
}

async fn usage_now(ctx: &Context<'_>, developer_id: Uuid) -> Result<UsageNow> {
    Ok(ctx
        .loader::<UsageNowByDeveloper>()?
        .load_one(developer_id)
        .await?
        .unwrap_or_default())
}

#[derive(SimpleObject)]
pub struct FeatureAccess {
    feature: String,
    enabled: bool,
    source: EntitlementSource,
}

#[derive(Default)]
pub struct EntitlementsQuery;

#[Object]
impl EntitlementsQuery {
    /// A developer's plan limits, flags and settings merged with its overrides, with usage
    /// where metered. Developers see their own (omit `developerId`); admins anyone's.
    async fn entitlements(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
    ) -> Result<Vec<Entitlement>> {
        let subject = service::subject(ctx.actor()?, developer_id).await?;
        load_for(ctx, subject).await
    }

    /// Whether a feature (`sso`, or `feature.sso`) is on for the caller: a developer, a
    /// runtime node's license key or an instance token. Admins may ask for a developer.
    async fn check_feature_access(
        &self,
        ctx: &Context<'_>,
        feature: String,
        developer_id: Option<Uuid>,
    ) -> Result<FeatureAccess> {
        let access = service::check_feature(ctx.actor()?, &feature, developer_id).await?;
        Ok(FeatureAccess {
            feature: access.feature,
            enabled: access.enabled,
            source: access.source,
        })
    }
}

#[derive(Default)]
pub struct EntitlementsMutation;

#[Object]
impl EntitlementsMutation {
    /// Sets one entitlement for one developer above its plan (admins). `value`: a whole number
    /// or null (unlimited) for limits, true/false for flags, a string for settings.
    async fn set_entitlement_override(
        &self,
        ctx: &Context<'_>,
        developer_id: Uuid,
        key: String,
        value: Option<Json<serde_json::Value>>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Entitlement>> {
        let change = OverrideChange {
            developer_id,
            key,
            value: value.map_or(serde_json::Value::Null, |v| v.0),
            expires_at,
        };
        let merged = service::set_override(ctx.actor()?, change).await?;
        Ok(describe(&merged, &usage_now(ctx, developer_id).await?))
    }

    /// Drops an override; the plan's value applies again (admins).
    async fn remove_entitlement_override(
        &self,
        ctx: &Context<'_>,
        developer_id: Uuid,
        key: String,
    ) -> Result<Vec<Entitlement>> {
        let merged = service::remove_override(ctx.actor()?, developer_id, key).await?;
        Ok(describe(&merged, &usage_now(ctx, developer_id).await?))
    }
}
