use super::ingest::{self, EventInput};
use super::loaders::{SeriesKey, UsageSeries};
use super::metrics::{self, Aggregation, Granularity, Metric, NewMetric};
use super::query::{self, Current, Point, range};
use super::rollup::Scope;
use crate::domain::instances::schema::Instance;
use crate::events::overrun::OnLag;
use crate::events::resume;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::shown;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::{FutureExt, Stream, StreamExt};
use uuid::Uuid;

/// One usage event. Exactly what a client sends again after a timeout: the same
/// `transactionId` is stored once.
#[derive(InputObject)]
pub struct UsageEventInput {
    /// The idempotency key, unique per developer (1 to 255 characters).
    transaction_id: String,
    /// The instance the usage belongs to; or name a license.
    instance_id: Option<Uuid>,
    license_id: Option<Uuid>,
    /// A metric code: api_requests, storage_bytes, database_bytes, compute_seconds,
    /// mail_credits, letters, or a custom one.
    metric: String,
    /// Whole units, at least 0. Ignored by UNIQUE_COUNT metrics.
    #[graphql(default = 0)]
    value: i64,
    /// For UNIQUE_COUNT metrics: the value counted once per period (e.g. a user id).
    unique_value: Option<String>,
    /// When it happened; defaults to now. At most 35 days old and 5 minutes ahead.
    timestamp: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct RecordUsagePayload {
    /// Events stored by this call.
    accepted: i32,
    /// Events skipped because their transaction id was already stored or repeated in the batch.
    duplicates: i32,
}

pub struct UsageMetric(pub Metric);

#[Object]
impl UsageMetric {
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn aggregation(&self) -> Aggregation {
        self.0.aggregation
    }
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// The limit entitlement that bounds it, if any.
    async fn quota_key(&self) -> Option<&str> {
        self.0.quota.as_ref().map(|(k, _)| k.as_str())
    }
    /// DAY: per instance per day; MONTH: per developer per calendar month (UTC).
    async fn quota_period(&self) -> Option<Granularity> {
        self.0.quota.as_ref().map(|(_, p)| *p)
    }
}

#[derive(SimpleObject)]
pub struct UsagePoint {
    /// The first day of the period (UTC).
    period_start: NaiveDate,
    value: i64,
}

impl From<Point> for UsagePoint {
    fn from(p: Point) -> Self {
        Self {
            period_start: p.period_start,
            value: p.value,
        }
    }
}

pub struct CurrentUsage(Current);

#[Object]
impl CurrentUsage {
    async fn metric(&self) -> &str {
        &self.0.metric.code
    }
    async fn aggregation(&self) -> Aggregation {
        self.0.metric.aggregation
    }
    async fn granularity(&self) -> Granularity {
        self.0.granularity
    }
    async fn period_start(&self) -> NaiveDate {
        self.0.period_start
    }
    async fn value(&self) -> i64 {
        self.0.value
    }
    /// The quota at this level; null when unlimited or not metered here.
    async fn limit(&self) -> Option<i64> {
        self.0.limit
    }
    async fn remaining(&self) -> Option<i64> {
        self.0.remaining()
    }
    /// Whether usage past the limit is accepted (and billed) rather than refused.
    async fn overage_allowed(&self) -> bool {
        self.0.overage_allowed
    }
}

#[derive(SimpleObject)]
pub struct InstanceQuotaAlert {
    instance: Instance,
    metric: String,
    value: i64,
    limit: i64,
    percent: f64,
}

#[derive(InputObject)]
pub struct DefineUsageMetricInput {
    code: String,
    name: String,
    aggregation: Aggregation,
    #[graphql(default)]
    unit: String,
    /// A limit entitlement (e.g. `monthly_letters`) that bounds this metric.
    quota_key: Option<String>,
    quota_period: Option<Granularity>,
}

#[derive(Default)]
pub struct UsageQuery;

#[Object]
impl UsageQuery {
    /// Every metric and how it aggregates.
    async fn usage_metrics(&self, ctx: &Context<'_>) -> Result<Vec<UsageMetric>> {
        let found = metrics::list(ctx.actor()?).await?;
        Ok(found.into_iter().map(UsageMetric).collect())
    }

    /// One metric's series for an instance or a developer (name exactly one), per day or per
    /// month (UTC), from the roll-ups. Defaults: the last 30 days or 12 months.
    #[allow(clippy::too_many_arguments)]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        instance_id: Option<Uuid>,
        developer_id: Option<Uuid>,
        metric: String,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default_with = "Granularity::Day")] granularity: Granularity,
    ) -> Result<Vec<UsagePoint>> {
        let actor = ctx.actor()?;
        let series = query::series(
            actor,
            instance_id,
            developer_id,
            &metric,
            granularity,
            (from, to),
        )
        .await?;
        Ok(series.into_iter().map(UsagePoint::from).collect())
    }

    /// This period's totals for every metric with the limit that binds them: today's for an
    /// instance (daily quotas are per instance), this month's for a developer. Without
    /// arguments, the caller's own developer account.
    async fn current_usage(
        &self,
        ctx: &Context<'_>,
        instance_id: Option<Uuid>,
        developer_id: Option<Uuid>,
    ) -> Result<Vec<CurrentUsage>> {
        let found = query::current_usage(ctx.actor()?, instance_id, developer_id).await?;
        Ok(found.into_iter().map(CurrentUsage).collect())
    }

    /// Instances at or past `threshold` of a daily quota today, most used first (admins).
    async fn instances_approaching_quota(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0.9)] threshold: f64,
    ) -> Result<Vec<InstanceQuotaAlert>> {
        let actor = ctx.actor()?;
        let near = query::instances_approaching(actor, threshold).await?;
        Ok(near
            .into_iter()
            .filter_map(|near| {
                Some(InstanceQuotaAlert {
                    percent: near.value as f64 * 100.0 / near.limit.max(1) as f64,
                    instance: shown(actor, near.instance)?,
                    metric: near.metric,
                    value: near.value,
                    limit: near.limit,
                })
            })
            .collect())
    }
}

#[derive(Default)]
pub struct UsageMutation;

#[Object]
impl UsageMutation {
    /// Records up to 1,000 usage events in one transaction. Idempotent per (developer,
    /// transactionId). An invalid event refuses the batch with VALIDATION naming
    /// `events[i]`; an event that would cross a hard quota refuses it with QUOTA_EXCEEDED
    /// (`limit`, `current`, `metric`, `index`). Callers: developers (their own instances and
    /// licenses), admins, a license key (its license) or an instance token (its instance).
    async fn record_usage(
        &self,
        ctx: &Context<'_>,
        events: Vec<UsageEventInput>,
    ) -> Result<RecordUsagePayload> {
        let events = events
            .into_iter()
            .map(|e| EventInput {
                transaction_id: e.transaction_id,
                instance_id: e.instance_id,
                license_id: e.license_id,
                metric: e.metric,
                value: e.value,
                unique_value: e.unique_value,
                timestamp: e.timestamp,
            })
            .collect();
        let recorded = ingest::record(ctx.actor()?, events).await?;
        Ok(RecordUsagePayload {
            accepted: recorded.accepted as i32,
            duplicates: recorded.duplicates as i32,
        })
    }

    /// Adds a custom metric (admins).
    async fn define_usage_metric(
        &self,
        ctx: &Context<'_>,
        input: DefineUsageMetricInput,
    ) -> Result<UsageMetric> {
        let metric = metrics::define(
            ctx.actor()?,
            NewMetric {
                code: input.code,
                name: input.name,
                aggregation: input.aggregation,
                unit: input.unit,
                quota_key: input.quota_key,
                quota_period: input.quota_period,
            },
        )
        .await?;
        Ok(UsageMetric(metric))
    }
}

/// `Instance.usage`: one metric's series through the batched loader.
pub async fn instance_usage(
    ctx: &Context<'_>,
    instance_id: Uuid,
    metric: String,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    granularity: Granularity,
) -> Result<Vec<UsagePoint>> {
    let (from, to) = range(granularity, from, to, ctx.actor()?.now)?;
    let key = SeriesKey {
        scope: Scope::Instance,
        id: instance_id,
        metric,
        granularity,
        from,
        to,
    };
    Ok(ctx
        .loader::<UsageSeries>()?
        .load_one(key)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(UsagePoint::from)
        .collect())
}

/// The least time between two `currentUsage` pushes to one subscriber.
const PUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
pub struct UsageSubscription;

#[Subscription]
impl UsageSubscription {
    /// `currentUsage` as it changes: sent at once, then whenever recorded usage moves it, at
    /// most once a second (changes within the second are sent together). Same arguments and
    /// the same callers as the query.
    async fn current_usage(
        &self,
        ctx: &Context<'_>,
        instance_id: Option<Uuid>,
        developer_id: Option<Uuid>,
    ) -> Result<impl Stream<Item = Vec<CurrentUsage>>> {
        let actor = ctx.actor()?.clone();
        let owner = query::current_usage_owner(&actor, instance_id, developer_id).await?;
        let changes = resume::events(&actor, None, None, OnLag::CatchUp, move |event| {
            event.kind == ingest::USAGE_RECORDED && event.entity_id == owner
        })
        .await?;
        Ok(async_stream::stream! {
            let mut changes = std::pin::pin!(changes);
            loop {
                let now = actor.renewed();
                match query::current_usage(&now, instance_id, developer_id).await {
                    Ok(found) => yield found.into_iter().map(CurrentUsage).collect(),
                    Err(err) => {
                        tracing::warn!(error = ?err, "current usage could not be read");
                        return;
                    }
                }
                let sent = tokio::time::Instant::now();
                if changes.next().await.is_none() {
                    return;
                }
                // Whatever else arrives within the second is folded into the next push.
                tokio::time::sleep_until(sent + PUSH_INTERVAL).await;
                while let Some(Some(_)) = changes.next().now_or_never() {}
            }
        })
    }
}
