//! Folding a batch's accepted events into roll-up changes, and the upserts that apply them.
//!
//! Every event lands in up to four roll-ups: its developer's day and month, and, when it names
//! an instance, that instance's day and month. Each roll-up row is changed by one upsert whose
//! arithmetic runs in the database, so concurrent batches add up instead of overwriting.

use super::metrics::{Aggregation, Granularity, Metric};
use crate::error::AppResult;
use crate::vocabulary::text_enum;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::usage_rollups::{self, Column};
use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, InsertStatement, OnConflict, Query};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

text_enum!(
    /// Whose roll-up a row is: an instance's or a developer's.
    pub enum Scope {
        Instance => "instance",
        Developer => "developer",
    }
);

/// Where a quota over this period binds: daily quotas per instance, monthly per developer.
pub fn quota_scope(granularity: Granularity) -> Scope {
    match granularity {
        Granularity::Day => Scope::Instance,
        Granularity::Month => Scope::Developer,
    }
}

/// An event that passed validation and was stored for the first time.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub index: usize,
    pub developer_id: Uuid,
    pub instance_id: Option<Uuid>,
    pub metric: String,
    pub value: i64,
    pub unique_value: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Which roll-up row: ordered, so every batch locks rows in the same order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    pub scope: Scope,
    pub scope_id: Uuid,
    pub metric: String,
    pub granularity: Granularity,
    pub bucket: NaiveDate,
}

impl RollupKey {
    /// The key under which UNIQUE_COUNT remembers values it has counted.
    pub fn distinct_key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.scope.as_str(),
            self.scope_id,
            self.metric,
            self.granularity.as_str(),
            self.bucket
        )
    }
}

/// The first day of the period `at` falls in.
pub fn bucket(granularity: Granularity, at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    match granularity {
        Granularity::Day => day,
        Granularity::Month => day.with_day(1).unwrap_or(day),
    }
}

pub fn keys_of(event: &Accepted) -> Vec<RollupKey> {
    let mut scopes = vec![(Scope::Developer, event.developer_id)];
    if let Some(instance) = event.instance_id {
        scopes.push((Scope::Instance, instance));
    }
    let mut keys = Vec::with_capacity(4);
    for (scope, scope_id) in scopes {
        for granularity in [Granularity::Day, Granularity::Month] {
            keys.push(RollupKey {
                scope,
                scope_id,
                metric: event.metric.clone(),
                granularity,
                bucket: bucket(granularity, event.occurred_at),
            });
        }
    }
    keys
}

/// What one batch does to one roll-up row.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub developer_id: Uuid,
    pub aggregation: Aggregation,
    /// Added (SUM, UNIQUE_COUNT) or offered (MAX, LATEST) to the stored value.
    pub value: i64,
    pub last_at: DateTime<Utc>,
    /// The batch's events in this row, by index, for naming the one that crosses a quota.
    pub events: Vec<(usize, i64)>,
}

/// Folds accepted events (in batch order) into one change per roll-up row. `fresh` holds the
/// (distinct key, value) pairs UNIQUE_COUNT had not seen before this batch.
pub fn fold(
    events: &[Accepted],
    metrics: &HashMap<String, Metric>,
    fresh: &HashSet<(String, String)>,
) -> BTreeMap<RollupKey, Change> {
    let mut changes: BTreeMap<RollupKey, Change> = BTreeMap::new();
    let mut counted: HashSet<(String, String)> = HashSet::new();
    for event in events {
        let Some(metric) = metrics.get(&event.metric) else {
            continue;
        };
        for key in keys_of(event) {
            let contribution = match metric.aggregation {
                Aggregation::UniqueCount => {
                    let pair = (
                        key.distinct_key(),
                        event.unique_value.clone().unwrap_or_default(),
                    );
                    i64::from(fresh.contains(&pair) && counted.insert(pair))
                }
                _ => event.value,
            };
            let change = changes.entry(key).or_insert_with(|| Change {
                developer_id: event.developer_id,
                aggregation: metric.aggregation,
                value: match metric.aggregation {
                    Aggregation::Max => i64::MIN,
                    _ => 0,
                },
                last_at: event.occurred_at,
                events: Vec::new(),
            });
            change.value = match metric.aggregation {
                Aggregation::Sum | Aggregation::UniqueCount => {
                    change.value.saturating_add(contribution)
                }
                Aggregation::Max => Ord::max(change.value, contribution),
                // A later timestamp wins; on a tie, the later event in the batch.
                Aggregation::Latest if event.occurred_at >= change.last_at => contribution,
                Aggregation::Latest => change.value,
            };
            change.last_at = Ord::max(change.last_at, event.occurred_at);
            change.events.push((event.index, contribution));
        }
    }
    changes
}

const EXCLUDED: &str = "excluded";

fn stored(column: Column) -> Expr {
    Expr::col((usage_rollups::Entity, column))
}

fn offered(column: Column) -> Expr {
    Expr::col((Alias::new(EXCLUDED), column))
}

/// The row's value after the change, in SQL, from the stored row and the offered one.
fn merged_value(aggregation: Aggregation) -> Expr {
    match aggregation {
        Aggregation::Sum | Aggregation::UniqueCount => {
            stored(Column::Value).add(offered(Column::Value))
        }
        Aggregation::Max => Expr::case(
            offered(Column::Value).gt(stored(Column::Value)),
            offered(Column::Value),
        )
        .finally(stored(Column::Value))
        .into(),
        Aggregation::Latest => Expr::case(
            offered(Column::LastAt).gte(stored(Column::LastAt)),
            offered(Column::Value),
        )
        .finally(stored(Column::Value))
        .into(),
    }
}

/// A roll-up row as an upsert leaves it.
#[derive(Debug, FromQueryResult)]
pub struct Landed {
    pub scope_type: String,
    pub scope_id: Uuid,
    pub metric_code: String,
    pub granularity: String,
    pub bucket: NaiveDate,
    pub value: i64,
    pub previous_value: i64,
    pub quota_limit: Option<i64>,
}

impl Landed {
    pub fn key(&self) -> AppResult<RollupKey> {
        Ok(RollupKey {
            scope: Scope::from_stored(&self.scope_type)?,
            scope_id: self.scope_id,
            metric: self.metric_code.clone(),
            granularity: Granularity::from_stored(&self.granularity)?,
            bucket: self.bucket,
        })
    }
}

/// One upsert for rows sharing an aggregation. With `enforce`, a row whose new value would
/// pass its `quota_limit` is left alone and missing from RETURNING: the caller refuses then.
pub fn upsert(
    rows: &[(&RollupKey, &Change, Option<i64>)],
    aggregation: Aggregation,
    enforce: bool,
    now: DateTime<Utc>,
) -> InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(usage_rollups::Entity).columns([
        Column::ScopeType,
        Column::ScopeId,
        Column::MetricCode,
        Column::Granularity,
        Column::Bucket,
        Column::DeveloperId,
        Column::Value,
        Column::PreviousValue,
        Column::QuotaLimit,
        Column::LastAt,
        Column::UpdatedAt,
    ]);
    for (key, change, limit) in rows {
        insert.values_panic([
            key.scope.as_str().into(),
            key.scope_id.into(),
            key.metric.clone().into(),
            key.granularity.as_str().into(),
            key.bucket.into(),
            change.developer_id.into(),
            change.value.into(),
            0i64.into(),
            (*limit).into(),
            change.last_at.fixed_offset().into(),
            now.fixed_offset().into(),
        ]);
    }
    let mut on_conflict = OnConflict::columns([
        Column::ScopeType,
        Column::ScopeId,
        Column::MetricCode,
        Column::Granularity,
        Column::Bucket,
    ]);
    // Every right-hand side reads the row as it was, so previous_value gets the old value.
    on_conflict.values([
        (Column::PreviousValue, stored(Column::Value)),
        (Column::Value, merged_value(aggregation)),
        (
            Column::LastAt,
            Expr::case(
                offered(Column::LastAt).gt(stored(Column::LastAt)),
                offered(Column::LastAt),
            )
            .finally(stored(Column::LastAt))
            .into(),
        ),
        (Column::QuotaLimit, offered(Column::QuotaLimit)),
        (Column::UpdatedAt, offered(Column::UpdatedAt)),
    ]);
    if enforce {
        on_conflict.action_and_where(merged_value(aggregation).lte(offered(Column::QuotaLimit)));
    }
    insert.on_conflict(on_conflict.to_owned());
    insert.returning(Query::returning().columns([
        Column::ScopeType,
        Column::ScopeId,
        Column::MetricCode,
        Column::Granularity,
        Column::Bucket,
        Column::Value,
        Column::PreviousValue,
        Column::QuotaLimit,
    ]));
    insert.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn metric(code: &str, aggregation: Aggregation) -> (String, Metric) {
        (
            code.to_owned(),
            Metric {
                code: code.to_owned(),
                name: code.to_owned(),
                aggregation,
                unit: String::new(),
                quota: None,
            },
        )
    }

    fn event(index: usize, metric: &str, value: i64, minute: u32) -> Accepted {
        Accepted {
            index,
            developer_id: Uuid::nil(),
            instance_id: None,
            metric: metric.to_owned(),
            value,
            unique_value: None,
            occurred_at: Utc
                .with_ymd_and_hms(2026, 11, 23, 10, minute, 0)
                .single()
                .expect("valid"),
        }
    }

    fn day_value(changes: &BTreeMap<RollupKey, Change>, metric: &str) -> i64 {
        changes
            .iter()
            .find(|(k, _)| k.metric == metric && k.granularity == Granularity::Day)
            .map(|(_, c)| c.value)
            .expect("valid")
    }

    #[test]
    fn each_aggregation_folds_its_own_way() {
        let metrics: HashMap<_, _> = [
            metric("s", Aggregation::Sum),
            metric("m", Aggregation::Max),
            metric("l", Aggregation::Latest),
        ]
        .into();
        let events = [
            event(0, "s", 3, 5),
            event(1, "s", 4, 1),
            event(2, "m", 7, 5),
            event(3, "m", 2, 6),
            event(4, "l", 9, 8),
            event(5, "l", 1, 2),
        ];
        let changes = fold(&events, &metrics, &HashSet::new());
        assert_eq!(day_value(&changes, "s"), 7);
        assert_eq!(day_value(&changes, "m"), 7);
        assert_eq!(
            day_value(&changes, "l"),
            9,
            "the latest timestamp wins, not the last event"
        );
        assert_eq!(changes.len(), 6, "a day and a month row per metric");
    }

    #[test]
    fn month_buckets_start_on_the_first() {
        let at = Utc
            .with_ymd_and_hms(2026, 2, 17, 23, 59, 0)
            .single()
            .expect("valid");
        assert_eq!(
            bucket(Granularity::Month, at),
            NaiveDate::from_ymd_opt(2026, 2, 1).expect("valid")
        );
        assert_eq!(
            bucket(Granularity::Day, at),
            NaiveDate::from_ymd_opt(2026, 2, 17).expect("valid")
        );
    }
}
