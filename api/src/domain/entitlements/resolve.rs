//! A developer's entitlements: the plan of its current license, with its live overrides on top.

use super::catalogue;
use chrono::{DateTime, Utc};
use entity::{entitlement_overrides, licenses, plan_entitlements, plans, prelude::*};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// License states whose plan a developer currently enjoys.
pub const USABLE_STATES: [&str; 3] = ["trialing", "active", "grace"];

/// Where a value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum EntitlementSource {
    Plan,
    Override,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub value: Value,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The merged view. Cheap to clone behind an `Arc`; see the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Entitlements {
    pub developer_id: Uuid,
    /// The plan of the newest usable license; None when there is none.
    pub plan_code: Option<String>,
    pub plan_values: BTreeMap<String, Value>,
    pub overrides: BTreeMap<String, Override>,
}

impl Entitlements {
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.overrides
            .get(key)
            .map(|o| &o.value)
            .or_else(|| self.plan_values.get(key))
    }

    pub fn source(&self, key: &str) -> EntitlementSource {
        if self.overrides.contains_key(key) {
            EntitlementSource::Override
        } else {
            EntitlementSource::Plan
        }
    }

    /// A ceiling: None is unlimited. A key the plan does not know allows nothing.
    pub fn limit(&self, key: &str) -> Option<i64> {
        match self.value(key) {
            Some(Value::Null) => None,
            Some(value) => Some(value.as_i64().unwrap_or(0)),
            None => Some(0),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        self.value(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// Every key with a value, overrides included, in order.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .plan_values
            .keys()
            .chain(self.overrides.keys())
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The earliest moment an override lapses, after which this view is stale.
    pub fn stale_after(&self) -> Option<DateTime<Utc>> {
        self.overrides.values().filter_map(|o| o.expires_at).min()
    }
}

/// Entitlements of many developers in three statements (licenses, plans, overrides).
pub async fn resolve_many(
    conn: &impl ConnectionTrait,
    developer_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Entitlements>, DbErr> {
    let current = Licenses::find()
        .filter(licenses::Column::DeveloperId.is_in(developer_ids.iter().copied()))
        .filter(licenses::Column::State.is_in(USABLE_STATES))
        .order_by_desc(licenses::Column::Id)
        .all(conn)
        .await?;
    let mut plan_of: HashMap<Uuid, Uuid> = HashMap::new();
    for license in current {
        plan_of
            .entry(license.developer_id)
            .or_insert(license.plan_id);
    }
    let mut plan_ids: Vec<Uuid> = plan_of.values().copied().collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let plans: HashMap<Uuid, (plan_entitlements::Model, Option<plans::Model>)> =
        PlanEntitlements::find()
            .find_also_related(Plans)
            .filter(plan_entitlements::Column::PlanId.is_in(plan_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|(row, plan)| (row.plan_id, (row, plan)))
            .collect();
    let now_fixed: DateTime<chrono::FixedOffset> = now.into();
    let overrides = EntitlementOverrides::find()
        .filter(entitlement_overrides::Column::DeveloperId.is_in(developer_ids.iter().copied()))
        .filter(
            Condition::any()
                .add(entitlement_overrides::Column::ExpiresAt.is_null())
                .add(entitlement_overrides::Column::ExpiresAt.gt(now_fixed)),
        )
        .all(conn)
        .await?;
    let mut result: HashMap<Uuid, Entitlements> = developer_ids
        .iter()
        .map(|&developer_id| {
            let plan = plan_of.get(&developer_id).and_then(|p| plans.get(p));
            let entitlements = Entitlements {
                developer_id,
                plan_code: plan.and_then(|(_, p)| p.as_ref().map(|p| p.code.clone())),
                plan_values: plan.map_or_else(catalogue::without_plan, |(row, _)| {
                    catalogue::from_plan(row)
                }),
                overrides: BTreeMap::new(),
            };
            (developer_id, entitlements)
        })
        .collect();
    for row in overrides {
        if let Some(entitlements) = result.get_mut(&row.developer_id) {
            entitlements.overrides.insert(
                row.key,
                Override {
                    value: row.value,
                    expires_at: row.expires_at.map(|t| t.with_timezone(&Utc)),
                },
            );
        }
    }
    Ok(result)
}

pub async fn resolve_one(
    conn: &impl ConnectionTrait,
    developer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Entitlements, DbErr> {
    let mut all = resolve_many(conn, &[developer_id], now).await?;
    all.remove(&developer_id)
        .ok_or_else(|| DbErr::RecordNotFound("entitlements".into()))
}
