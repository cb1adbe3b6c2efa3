use super::loaders::PoolById;
use super::service::{self, InstanceMove, NewInstance, NewPool, PoolChanges};
use crate::domain::usage::metrics::Granularity;
use crate::domain::usage::schema::{UsagePoint, instance_usage};
use crate::graphql::context::ContextExt;
use async_graphql::{Context, Object, Result, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::{database_pools, instances};
use uuid::Uuid;

/// A shared database server that holds many customers' databases.
pub struct DatabasePool(pub database_pools::Model);

#[Object]
impl DatabasePool {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn host(&self) -> &str {
        &self.0.host
    }
    async fn region(&self) -> &str {
        &self.0.region
    }
    /// active, draining or offline.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn max_databases(&self) -> i32 {
        self.0.max_databases
    }
    async fn current_databases(&self) -> i32 {
        self.0.current_databases
    }
    async fn usage_percent(&self) -> f64 {
        f64::from(self.0.current_databases) * 100.0 / f64::from(self.0.max_databases.max(1))
    }
    async fn alert_threshold(&self) -> f64 {
        self.0.alert_threshold
    }
    /// At or past the alert threshold.
    async fn past_threshold(&self) -> bool {
        f64::from(self.0.current_databases)
            >= self.0.alert_threshold * f64::from(self.0.max_databases)
    }
    async fn storage_used_bytes(&self) -> i64 {
        self.0.storage_used_bytes
    }
    async fn storage_total_bytes(&self) -> Option<i64> {
        self.0.storage_total_bytes
    }
}

/// A customer's deployment, with its own database in a shared pool or on a dedicated server.
pub struct Instance(pub instances::Model);

#[Object]
impl Instance {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn subdomain(&self) -> &str {
        &self.0.subdomain
    }
    async fn region(&self) -> &str {
        &self.0.region
    }
    /// shared or dedicated, from the plan.
    async fn tier(&self) -> &str {
        &self.0.tier
    }
    /// provisioning, waiting_for_capacity, running, suspended, error, deleting or deleted.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn pool_id(&self) -> Option<Uuid> {
        self.0.pool_id
    }
    /// The shared pool holding its database, for admins (pool hosts are operator data).
    async fn pool(&self, ctx: &Context<'_>) -> Result<Option<DatabasePool>> {
        let Some(pool_id) = self.0.pool_id.filter(|_| ctx.caller().is_admin()) else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<PoolById>>()?;
        Ok(loader.load_one(pool_id).await?.map(DatabasePool))
    }
    /// One metric's series for this instance (UTC days or months; by default the last 30 days).
    async fn usage(
        &self,
        ctx: &Context<'_>,
        metric: String,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default_with = "Granularity::Day")] granularity: Granularity,
    ) -> Result<Vec<UsagePoint>> {
        instance_usage(ctx, self.0.id, metric, from, to, granularity).await
    }
    async fn database_name(&self) -> &str {
        &self.0.database_name
    }
    async fn database_user(&self) -> &str {
        &self.0.database_user
    }
    async fn database_host(&self) -> Option<&str> {
        self.0.database_host.as_deref()
    }
    /// Why it is in error, when it is.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

#[derive(Default)]
pub struct InstancesQuery;

#[Object]
impl InstancesQuery {
    /// Shared pools with their load. Admins only.
    async fn database_pools(&self, ctx: &Context<'_>) -> Result<Vec<DatabasePool>> {
        let pools = service::list_pools(ctx.app()?, ctx.caller()).await?;
        Ok(pools.into_iter().map(DatabasePool).collect())
    }

    /// Pools at or past their alert threshold, fullest first. Admins only.
    async fn pools_approaching_capacity(&self, ctx: &Context<'_>) -> Result<Vec<DatabasePool>> {
        let pools = service::pools_approaching_capacity(ctx.app()?, ctx.caller()).await?;
        Ok(pools.into_iter().map(DatabasePool).collect())
    }

    /// Instances: admins all, developers their own.
    async fn instances(&self, ctx: &Context<'_>) -> Result<Vec<Instance>> {
        let found = service::list_instances(ctx.app()?, ctx.caller()).await?;
        Ok(found.into_iter().map(Instance).collect())
    }
}

#[derive(Default)]
pub struct InstancesMutation;

async fn move_to(ctx: &Context<'_>, id: Uuid, change: InstanceMove) -> Result<Instance> {
    let instance =
        service::move_instance(ctx.app()?, ctx.caller(), ctx.meta(), id, change, Utc::now())
            .await?;
    Ok(Instance(instance))
}

#[Object]
impl InstancesMutation {
    /// Adds a shared pool (default 150 databases, alert at 80%) and places waiting instances of
    /// its region onto it, oldest first. Admins only.
    async fn create_database_pool(
        &self,
        ctx: &Context<'_>,
        host: String,
        region: String,
        max_databases: Option<i32>,
        alert_threshold: Option<f64>,
        storage_total_bytes: Option<i64>,
    ) -> Result<DatabasePool> {
        let input = NewPool {
            host,
            region,
            max_databases,
            alert_threshold,
            storage_total_bytes,
        };
        let pool =
            service::create_pool(ctx.app()?, ctx.caller(), ctx.meta(), input, Utc::now()).await?;
        Ok(DatabasePool(pool))
    }

    /// Changes a pool's status (active, draining, offline), size or alert threshold; more
    /// room places waiting instances at once. Admins only.
    async fn update_database_pool(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: Option<String>,
        max_databases: Option<i32>,
        alert_threshold: Option<f64>,
    ) -> Result<DatabasePool> {
        let changes = PoolChanges {
            status,
            max_databases,
            alert_threshold,
        };
        let pool = service::update_pool(
            ctx.app()?,
            ctx.caller(),
            ctx.meta(),
            id,
            changes,
            Utc::now(),
        )
        .await?;
        Ok(DatabasePool(pool))
    }

    /// Creates an instance on the tier the caller's plan decides; past the plan's limit,
    /// QUOTA_EXCEEDED. With no pool room it waits for capacity.
    async fn create_instance(
        &self,
        ctx: &Context<'_>,
        name: String,
        subdomain: String,
        region: String,
    ) -> Result<Instance> {
        let input = NewInstance {
            name,
            subdomain,
            region,
        };
        let instance =
            service::create_instance(ctx.app()?, ctx.caller(), ctx.meta(), input, Utc::now())
                .await?;
        Ok(Instance(instance))
    }

    /// Provisioning finished: the instance is running. Admins only.
    async fn mark_instance_running(&self, ctx: &Context<'_>, id: Uuid) -> Result<Instance> {
        move_to(ctx, id, InstanceMove::MarkRunning).await
    }

    /// Stops serving an instance until it is resumed. Admins and the owner.
    async fn suspend_instance(&self, ctx: &Context<'_>, id: Uuid) -> Result<Instance> {
        move_to(ctx, id, InstanceMove::Suspend).await
    }

    /// Serves a suspended instance again. Admins and the owner.
    async fn resume_instance(&self, ctx: &Context<'_>, id: Uuid) -> Result<Instance> {
        move_to(ctx, id, InstanceMove::Resume).await
    }

    /// Records that an instance failed, and why. Admins only.
    async fn fail_instance(&self, ctx: &Context<'_>, id: Uuid, reason: String) -> Result<Instance> {
        move_to(ctx, id, InstanceMove::Fail { reason }).await
    }

    /// A dedicated instance's server is ready at `host`. Admins only.
    async fn complete_provisioning(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        host: String,
    ) -> Result<Instance> {
        move_to(ctx, id, InstanceMove::CompleteProvisioning { host }).await
    }

    /// Deletes an instance and gives its pool slot to the oldest waiter.
    async fn delete_instance(&self, ctx: &Context<'_>, id: Uuid) -> Result<Instance> {
        let instance =
            service::delete_instance(ctx.app()?, ctx.caller(), ctx.meta(), id, Utc::now()).await?;
        Ok(Instance(instance))
    }
}
