use super::model::InstanceStatus;
use super::service::{self, InstanceMove, NewInstance};
use crate::auth::Audience;
use crate::domain::plans::model::DbType;
use crate::domain::pools::loaders::PoolById;
use crate::domain::pools::schema::DatabasePool;
use crate::domain::usage::metrics::Granularity;
use crate::domain::usage::schema::{UsagePoint, instance_usage};
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::{ContextExt, related_one};
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};

use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::instances;
use uuid::Uuid;

/// A customer's deployment, with its own database in a shared pool or on a dedicated server.
pub struct Instance(instances::Model);

impl Guarded for Instance {
    type Row = instances::Model;

    fn audience(row: &instances::Model) -> Audience {
        Audience::Instance {
            id: row.id,
            developer: row.developer_id,
        }
    }

    fn wrap(row: instances::Model, _: Seen) -> Self {
        Self(row)
    }
}

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
    async fn tier(&self) -> Result<&str> {
        Ok(DbType::from_stored(&self.0.tier)?.as_str())
    }
    /// provisioning, waiting_for_capacity, running, suspended, error, deleting or deleted.
    async fn status(&self) -> Result<&str> {
        Ok(InstanceStatus::from_stored(&self.0.status)?.as_str())
    }
    async fn pool_id(&self) -> Option<Uuid> {
        self.0.pool_id
    }
    /// The shared pool holding its database, for admins (pool hosts are operator data).
    async fn pool(&self, ctx: &Context<'_>) -> Result<Option<DatabasePool>> {
        match self.0.pool_id {
            Some(pool) => related_one::<PoolById, DatabasePool>(ctx, pool).await,
            None => Ok(None),
        }
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
    /// Instances, oldest first: admins all (or one developer's), developers their own.
    async fn instances(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<Instance>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = service::page_instances(actor, developer_id, &page).await?;
        let count = service::count_instances(actor, developer_id);
        connection::<Instance>(ctx, rows, |_, row| id_cursor(row.id), count).await
    }
}

#[derive(Default)]
pub struct InstancesMutation;

async fn move_to(ctx: &Context<'_>, id: Uuid, change: InstanceMove) -> Result<Instance> {
    let actor = ctx.actor()?;
    let moved = service::move_instance(actor, id, change).await?;
    Ok(shown_or_not_found(actor, moved, "instance")?)
}

#[Object]
impl InstancesMutation {
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
        let actor = ctx.actor()?;
        let created = service::create_instance(actor, input).await?;
        Ok(shown_or_not_found(actor, created, "instance")?)
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
        let actor = ctx.actor()?;
        let deleted = service::delete_instance(actor, id).await?;
        Ok(shown_or_not_found(actor, deleted, "instance")?)
    }
}
