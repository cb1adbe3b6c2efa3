//! `recordUsage`: a batch of events in one transaction, idempotent per (developer,
//! transaction id), folded into roll-ups, and refused as a whole when an event is invalid or
//! would cross a hard quota.

use super::metrics::{self, Aggregation, Metric};
use super::quota::{self, Bound};
use super::rollup::{self, Accepted, Change, Landed, RollupKey};
use crate::auth::{Actor, Caller, Role};
use crate::domain::instances::model::InstanceStatus;
use crate::error::{AppError, AppResult};
use crate::events::{Event, UnitOfWork};
use chrono::{DateTime, Duration, Utc};
use entity::{instances, licenses, prelude::*, usage_distinct_values, usage_events};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

pub const MAX_BATCH: usize = 1000;
const MAX_AGE_DAYS: i64 = 35;
const MAX_AHEAD_MINUTES: i64 = 5;
const MAX_TRANSACTION_ID: usize = 255;
/// Rows per multi-row statement, under SQLite's bound-parameter ceiling.
const CHUNK: usize = 2000;

#[derive(Clone, Debug)]
pub struct EventInput {
    pub transaction_id: String,
    pub instance_id: Option<Uuid>,
    pub license_id: Option<Uuid>,
    pub metric: String,
    pub value: i64,
    pub unique_value: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub accepted: usize,
    pub duplicates: usize,
}

fn invalid(index: usize, field: &str, message: impl Into<String>) -> AppError {
    AppError::validation(format!("events[{index}].{field}"), message)
}

/// Rules that need nothing but the event itself.
fn check_shape(index: usize, event: &EventInput, now: DateTime<Utc>) -> AppResult<()> {
    let tx = event.transaction_id.trim();
    if tx.is_empty() || tx.len() > MAX_TRANSACTION_ID {
        return Err(invalid(
            index,
            "transactionId",
            "must be 1 to 255 characters",
        ));
    }
    if event.instance_id.is_none() && event.license_id.is_none() {
        return Err(invalid(
            index,
            "instanceId",
            "name an instance or a license",
        ));
    }
    if event.value < 0 {
        return Err(invalid(index, "value", "must not be negative"));
    }
    if let Some(at) = event.timestamp {
        if at < now - Duration::days(MAX_AGE_DAYS) {
            return Err(invalid(index, "timestamp", "more than 35 days old"));
        }
        if at > now + Duration::minutes(MAX_AHEAD_MINUTES) {
            return Err(invalid(index, "timestamp", "more than 5 minutes ahead"));
        }
    }
    Ok(())
}

/// Who owns what the batch names, in at most two statements.
struct Owners {
    instances: HashMap<Uuid, instances::Model>,
    licenses: HashMap<Uuid, licenses::Model>,
}

async fn owners(conn: &impl ConnectionTrait, events: &[EventInput]) -> AppResult<Owners> {
    let instance_ids: HashSet<Uuid> = events.iter().filter_map(|e| e.instance_id).collect();
    let license_ids: HashSet<Uuid> = events.iter().filter_map(|e| e.license_id).collect();
    let instances = if instance_ids.is_empty() {
        HashMap::new()
    } else {
        Instances::find()
            .filter(instances::Column::Id.is_in(instance_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect()
    };
    let licenses = if license_ids.is_empty() {
        HashMap::new()
    } else {
        Licenses::find()
            .filter(licenses::Column::Id.is_in(license_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect()
    };
    Ok(Owners {
        instances,
        licenses,
    })
}

/// The developer an event is billed to, if the caller may report it.
fn owner_of(index: usize, event: &EventInput, owners: &Owners, caller: &Caller) -> AppResult<Uuid> {
    let by_instance = match event.instance_id {
        Some(id) => {
            let instance = owners
                .instances
                .get(&id)
                .ok_or_else(|| invalid(index, "instanceId", "no such instance"))?;
            if InstanceStatus::from_stored(&instance.status)? == InstanceStatus::Deleted {
                return Err(invalid(index, "instanceId", "the instance is deleted"));
            }
            Some(instance.developer_id)
        }
        None => None,
    };
    let by_license = match event.license_id {
        Some(id) => Some(
            owners
                .licenses
                .get(&id)
                .ok_or_else(|| invalid(index, "licenseId", "no such license"))?
                .developer_id,
        ),
        None => None,
    };
    let developer = match (by_instance, by_license) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(
                index,
                "licenseId",
                "belongs to another developer than the instance",
            ));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(invalid(
                index,
                "instanceId",
                "name an instance or a license",
            ));
        }
    };
    let allowed = match caller {
        Caller::User {
            role: Role::Admin, ..
        } => true,
        Caller::User { id, .. } => *id == developer,
        Caller::LicenseKey { license_id } => event.license_id == Some(*license_id),
        Caller::InstanceToken { instance_id } => event.instance_id == Some(*instance_id),
        Caller::Anonymous => false,
    };
    if !allowed {
        // Not yours reads like not there.
        let field = if event.instance_id.is_some() {
            "instanceId"
        } else {
            "licenseId"
        };
        return Err(invalid(index, field, "no such instance or license"));
    }
    Ok(developer)
}

#[derive(FromQueryResult)]
struct InsertedId {
    id: Uuid,
}

#[derive(FromQueryResult)]
struct DistinctRow {
    rollup_key: String,
    value: String,
}

pub async fn record(actor: &Actor, events: Vec<EventInput>) -> AppResult<Recorded> {
    let (app, caller, now) = (&actor.app, &actor.caller, actor.now);
    if matches!(caller, Caller::Anonymous) {
        return Err(AppError::Unauthenticated(
            "sign in, or send a license key or instance token",
        ));
    }
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(AppError::validation("events", "send 1 to 1,000 events"));
    }
    for (index, event) in events.iter().enumerate() {
        check_shape(index, event, now)?;
    }
    let codes: HashSet<String> = events.iter().map(|e| e.metric.clone()).collect();
    let metrics = metrics::by_codes(&app.db, codes).await?;
    let owners = owners(&app.db, &events).await?;
    let mut seen: HashSet<(Uuid, &str)> = HashSet::with_capacity(events.len());
    let mut fresh: Vec<Accepted> = Vec::with_capacity(events.len());
    let mut transaction_ids: HashMap<usize, &str> = HashMap::new();
    // Ids in batch order: on a timestamp tie, LATEST keeps the later event, here and later.
    let mut event_ids: HashMap<usize, Uuid> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let metric: &Metric = metrics
            .get(&event.metric)
            .ok_or_else(|| invalid(index, "metric", "unknown metric"))?;
        let unique_value = match (metric.aggregation, &event.unique_value) {
            (Aggregation::UniqueCount, None) => {
                return Err(invalid(
                    index,
                    "uniqueValue",
                    "required for a UNIQUE_COUNT metric",
                ));
            }
            (Aggregation::UniqueCount, Some(v)) if v.is_empty() || v.len() > 255 => {
                return Err(invalid(index, "uniqueValue", "must be 1 to 255 characters"));
            }
            (_, value) => value.clone(),
        };
        let developer_id = owner_of(index, event, &owners, caller)?;
        let tx = event.transaction_id.trim();
        if !seen.insert((developer_id, tx)) {
            continue;
        }
        transaction_ids.insert(index, tx);
        event_ids.insert(index, Uuid::now_v7());
        fresh.push(Accepted {
            index,
            developer_id,
            instance_id: event.instance_id,
            metric: event.metric.clone(),
            value: if metric.aggregation == Aggregation::UniqueCount {
                1
            } else {
                event.value
            },
            unique_value,
            occurred_at: event.timestamp.unwrap_or(now),
        });
    }
    let developers: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = fresh.iter().map(|e| e.developer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let entitlements = app.entitlements.get_many(&app.db, &developers, now).await?;

    let mut uow = UnitOfWork::begin(actor).await?;
    let backend = uow.get_database_backend();
    // Same order in every batch, so two batches racing on the same keys queue, never deadlock.
    fresh.sort_by(|a, b| {
        (a.developer_id, transaction_ids[&a.index])
            .cmp(&(b.developer_id, transaction_ids[&b.index]))
    });
    let mut ids: HashMap<Uuid, usize> = HashMap::with_capacity(fresh.len());
    let mut stored: HashSet<Uuid> = HashSet::with_capacity(fresh.len());
    for chunk in fresh.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert
            .into_table(usage_events::Entity)
            .columns([
                usage_events::Column::Id,
                usage_events::Column::DeveloperId,
                usage_events::Column::TransactionId,
                usage_events::Column::InstanceId,
                usage_events::Column::LicenseId,
                usage_events::Column::MetricCode,
                usage_events::Column::Value,
                usage_events::Column::UniqueValue,
                usage_events::Column::OccurredAt,
                usage_events::Column::ReceivedAt,
            ])
            .on_conflict(
                OnConflict::columns([
                    usage_events::Column::DeveloperId,
                    usage_events::Column::TransactionId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .returning_col(usage_events::Column::Id);
        for event in chunk {
            let id = event_ids[&event.index];
            ids.insert(id, event.index);
            insert.values_panic([
                id.into(),
                event.developer_id.into(),
                transaction_ids[&event.index].to_owned().into(),
                event.instance_id.into(),
                events[event.index].license_id.into(),
                event.metric.clone().into(),
                event.value.into(),
                event.unique_value.clone().into(),
                event.occurred_at.fixed_offset().into(),
                now.fixed_offset().into(),
            ]);
        }
        let rows = InsertedId::find_by_statement(backend.build(&insert))
            .all(&*uow)
            .await?;
        stored.extend(rows.into_iter().map(|r| r.id));
    }
    let stored_indexes: HashSet<usize> = stored
        .iter()
        .filter_map(|id| ids.get(id))
        .copied()
        .collect();
    let mut accepted: Vec<Accepted> = fresh
        .into_iter()
        .filter(|e| stored_indexes.contains(&e.index))
        .collect();
    accepted.sort_by_key(|e| e.index);
    let duplicates = events.len() - accepted.len();

    let distinct = remember_distinct(&*uow, &accepted, &metrics).await?;
    let changes = rollup::fold(&accepted, &metrics, &distinct);
    let bounds = quota::bounds(&changes, &metrics, &entitlements);
    let landed = match apply(&*uow, &changes, &bounds, now).await {
        Err(refused @ AppError::QuotaExceeded { index, .. }) => {
            drop(uow);
            let developer = accepted
                .iter()
                .find(|e| Some(e.index) == index)
                .map(|e| e.developer_id);
            quota::announce_refusal(actor, &refused, developer).await;
            return Err(refused);
        }
        landed => landed?,
    };
    for crossing in quota::crossings(&landed, &changes, &bounds)? {
        uow.publish(crossing);
    }
    // One notice per developer whose usage moved: what `currentUsage` subscribers wait for.
    let developers: BTreeSet<Uuid> = changes.values().map(|c| c.developer_id).collect();
    for developer in developers {
        uow.publish(Event {
            kind: USAGE_RECORDED.into(),
            entity_id: developer,
            developer_id: Some(developer),
            data: serde_json::Value::Null,
        });
    }
    uow.commit().await?;
    Ok(Recorded {
        accepted: accepted.len(),
        duplicates,
    })
}

/// Published once a batch per developer whose usage it moved.
pub const USAGE_RECORDED: &str = "usage.recorded";

/// Stores each UNIQUE_COUNT value under each of its roll-ups; answers the pairs not seen before.
async fn remember_distinct(
    conn: &impl ConnectionTrait,
    accepted: &[Accepted],
    metrics: &HashMap<String, Metric>,
) -> AppResult<HashSet<(String, String)>> {
    let mut pairs: Vec<(String, String)> = accepted
        .iter()
        .filter(|e| {
            metrics
                .get(&e.metric)
                .is_some_and(|m| m.aggregation == Aggregation::UniqueCount)
        })
        .flat_map(|e| {
            let value = e.unique_value.clone().unwrap_or_default();
            rollup::keys_of(e)
                .into_iter()
                .map(move |k| (k.distinct_key(), value.clone()))
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    let mut fresh = HashSet::new();
    for chunk in pairs.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert
            .into_table(usage_distinct_values::Entity)
            .columns([
                usage_distinct_values::Column::RollupKey,
                usage_distinct_values::Column::Value,
            ])
            .on_conflict(
                OnConflict::columns([
                    usage_distinct_values::Column::RollupKey,
                    usage_distinct_values::Column::Value,
                ])
                .do_nothing()
                .to_owned(),
            )
            .returning(Query::returning().columns([
                usage_distinct_values::Column::RollupKey,
                usage_distinct_values::Column::Value,
            ]));
        for (key, value) in chunk {
            insert.values_panic([key.clone().into(), value.clone().into()]);
        }
        let rows = DistinctRow::find_by_statement(conn.get_database_backend().build(&insert))
            .all(conn)
            .await?;
        fresh.extend(rows.into_iter().map(|r| (r.rollup_key, r.value)));
    }
    Ok(fresh)
}

/// A roll-up row to write, with the limit it carries.
type Row<'a> = (&'a RollupKey, &'a Change, Option<i64>);

/// Upserts every changed roll-up, grouped by how it merges and whether a quota binds it;
/// refuses the batch when a bound row did not take its change.
async fn apply(
    conn: &impl ConnectionTrait,
    changes: &BTreeMap<RollupKey, Change>,
    bounds: &HashMap<RollupKey, Bound>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Landed>> {
    // A change larger than the limit fails whatever is stored (values never go below 0).
    for (key, change) in changes {
        if let Some(bound) = bounds.get(key).filter(|b| b.enforce)
            && change.value > bound.limit
        {
            return Err(quota::refusal(conn, key, change, bound).await?);
        }
    }
    let mut groups: BTreeMap<(Aggregation, bool), Vec<Row<'_>>> = BTreeMap::new();
    for (key, change) in changes {
        let bound = bounds.get(key);
        groups
            .entry((change.aggregation, bound.is_some_and(|b| b.enforce)))
            .or_default()
            .push((key, change, bound.map(|b| b.limit)));
    }
    let backend = conn.get_database_backend();
    let mut landed = Vec::with_capacity(changes.len());
    for ((aggregation, enforce), rows) in groups {
        for chunk in rows.chunks(CHUNK) {
            let statement = rollup::upsert(chunk, aggregation, enforce, now);
            let rows = Landed::find_by_statement(backend.build(&statement))
                .all(conn)
                .await?;
            if enforce && rows.len() < chunk.len() {
                let took: HashSet<RollupKey> =
                    rows.iter().map(Landed::key).collect::<AppResult<_>>()?;
                if let Some((key, change, _)) = chunk.iter().find(|(k, _, _)| !took.contains(*k))
                    && let Some(bound) = bounds.get(*key)
                {
                    return Err(quota::refusal(conn, key, change, bound).await?);
                }
            }
            landed.extend(rows);
        }
    }
    Ok(landed)
}
