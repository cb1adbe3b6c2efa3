//! Usage behind relation fields, batched: every instance's series in one statement, and every
//! developer's current figures in three.

use super::metrics::{self, Granularity, Metric};
use super::query::{Point, series_many};
use super::rollup::{Scope, bucket};
use crate::clock::Clock;
use crate::domain::instances::model::InstanceStatus;
use crate::graphql::loader::{LoaderError, one_of};
use async_graphql::dataloader::Loader;
use chrono::NaiveDate;
use entity::{instances, prelude::*, usage_rollups};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// One subject's series with the arguments the field was asked with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub scope: Scope,
    pub id: Uuid,
    pub metric: String,
    pub granularity: Granularity,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub struct UsageSeries(pub DatabaseConnection);

impl Loader<SeriesKey> for UsageSeries {
    type Value = Vec<Point>;
    type Error = LoaderError;

    async fn load(
        &self,
        keys: &[SeriesKey],
    ) -> Result<HashMap<SeriesKey, Self::Value>, Self::Error> {
        // Sibling fields share their arguments, so this is one group, one statement.
        let mut groups: HashMap<(Scope, &str, Granularity, NaiveDate, NaiveDate), Vec<Uuid>> =
            HashMap::new();
        for key in keys {
            groups
                .entry((key.scope, &key.metric, key.granularity, key.from, key.to))
                .or_default()
                .push(key.id);
        }
        let mut found = HashMap::with_capacity(keys.len());
        for ((scope, metric, granularity, from, to), ids) in groups {
            let mut series =
                series_many(&self.0, scope, &ids, metric, granularity, from, to).await?;
            for id in ids {
                let key = SeriesKey {
                    scope,
                    id,
                    metric: metric.to_owned(),
                    granularity,
                    from,
                    to,
                };
                found.insert(key, series.remove(&id).unwrap_or_default());
            }
        }
        Ok(found)
    }
}

/// What a developer uses now, for entitlements' `used` and `remaining`.
#[derive(Clone, Debug, Default)]
pub struct UsageNow {
    pub live_instances: i64,
    /// This month's developer roll-ups by metric.
    pub this_month: HashMap<String, i64>,
    /// Today's highest instance roll-up by metric: daily quotas bind each instance.
    pub busiest_instance_today: HashMap<String, i64>,
    pub metrics: Arc<Vec<Metric>>,
}

#[derive(FromQueryResult)]
struct LiveCount {
    developer_id: Uuid,
    live: i64,
}

pub struct UsageNowByDeveloper {
    pub db: DatabaseConnection,
    pub clock: Clock,
}

impl Loader<Uuid> for UsageNowByDeveloper {
    type Value = UsageNow;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let now = self.clock.now();
        let db = &self.db;
        let metrics: Arc<Vec<Metric>> = Arc::new(metrics::all(db).await?);
        let counts = Instances::find()
            .select_only()
            .column(instances::Column::DeveloperId)
            .column_as(instances::Column::Id.count(), "live")
            .filter(one_of(
                db.get_database_backend(),
                instances::Column::DeveloperId,
                keys,
            ))
            .filter(instances::Column::Status.is_in(InstanceStatus::texts(InstanceStatus::LIVE)))
            .group_by(instances::Column::DeveloperId)
            .into_model::<LiveCount>()
            .all(db)
            .await?;
        let rollups = UsageRollups::find()
            .filter(one_of(
                db.get_database_backend(),
                usage_rollups::Column::DeveloperId,
                keys,
            ))
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(usage_rollups::Column::ScopeType.eq(Scope::Developer.as_str()))
                            .add(usage_rollups::Column::Granularity.eq(Granularity::Month.as_str()))
                            .add(usage_rollups::Column::Bucket.eq(bucket(Granularity::Month, now))),
                    )
                    .add(
                        Condition::all()
                            .add(usage_rollups::Column::ScopeType.eq(Scope::Instance.as_str()))
                            .add(usage_rollups::Column::Granularity.eq(Granularity::Day.as_str()))
                            .add(usage_rollups::Column::Bucket.eq(bucket(Granularity::Day, now))),
                    ),
            )
            .all(db)
            .await?;
        let mut found: HashMap<Uuid, UsageNow> = keys
            .iter()
            .map(|&id| {
                (
                    id,
                    UsageNow {
                        metrics: metrics.clone(),
                        ..UsageNow::default()
                    },
                )
            })
            .collect();
        for count in counts {
            if let Some(now) = found.get_mut(&count.developer_id) {
                now.live_instances = count.live;
            }
        }
        for row in rollups {
            let Some(now) = found.get_mut(&row.developer_id) else {
                continue;
            };
            if row.scope_type == Scope::Developer.as_str() {
                now.this_month.insert(row.metric_code, row.value);
            } else {
                let busiest = now
                    .busiest_instance_today
                    .entry(row.metric_code)
                    .or_insert(0);
                *busiest = (*busiest).max(row.value);
            }
        }
        Ok(found)
    }
}
