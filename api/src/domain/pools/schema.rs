use super::service::{self, NewPool, PoolChanges};
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_all, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result};
use entity::database_pools;
use uuid::Uuid;

/// A shared database server that holds many customers' databases.
pub struct DatabasePool(database_pools::Model);

impl Guarded for DatabasePool {
    type Row = database_pools::Model;

    /// Operator data: where customers' databases live.
    fn audience(_: &database_pools::Model) -> Audience {
        Audience::Admins
    }

    fn wrap(row: database_pools::Model, _: Seen) -> Self {
        Self(row)
    }
}

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

#[derive(Default)]
pub struct PoolsQuery;

#[Object]
impl PoolsQuery {
    /// Shared pools with their load, oldest first. Admins only.
    async fn database_pools(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<DatabasePool>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = service::page_pools(actor, &page).await?;
        let count = service::count_pools(actor);
        connection::<DatabasePool>(ctx, rows, |_, row| id_cursor(row.id), count).await
    }

    /// Pools at or past their alert threshold, fullest first. Admins only.
    async fn pools_approaching_capacity(&self, ctx: &Context<'_>) -> Result<Vec<DatabasePool>> {
        let actor = ctx.actor()?;
        Ok(shown_all(
            actor,
            service::pools_approaching_capacity(actor).await?,
        ))
    }
}

#[derive(Default)]
pub struct PoolsMutation;

#[Object]
impl PoolsMutation {
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
        let actor = ctx.actor()?;
        let pool = service::create_pool(actor, input).await?;
        Ok(shown_or_not_found(actor, pool, "database pool")?)
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
        let actor = ctx.actor()?;
        let pool = service::update_pool(actor, id, changes).await?;
        Ok(shown_or_not_found(actor, pool, "database pool")?)
    }
}
