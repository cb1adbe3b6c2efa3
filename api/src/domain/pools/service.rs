//! Shared database pools (admins): adding, resizing and retiring them, and watching their load.

use super::model::PoolStatus;
use super::placement::place_waiters;
use crate::auth::Actor;
use crate::domain::instances::input as instance_input;
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{database_pools, prelude::*};
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

fn check_threshold(threshold: f64) -> AppResult<()> {
    if threshold > 0.0 && threshold <= 1.0 {
        Ok(())
    } else {
        Err(AppError::validation(
            "alertThreshold",
            "must be above 0 and at most 1",
        ))
    }
}

pub struct NewPool {
    pub host: String,
    pub region: String,
    pub max_databases: Option<i32>,
    pub alert_threshold: Option<f64>,
    pub storage_total_bytes: Option<i64>,
}

/// A change to a pool: operator data, so no developer owns it.
fn pool_change(kind: &str, id: Uuid, metadata: serde_json::Value) -> Change {
    Change::new(kind, "database_pool", id).metadata(metadata)
}

/// Adds a shared pool and places waiting instances of its region onto it. Admins only.
pub async fn create_pool(actor: &Actor, input: NewPool) -> AppResult<database_pools::Model> {
    actor.require_admin()?;
    let now = actor.now;
    let max = input.max_databases.unwrap_or(150);
    let threshold = input.alert_threshold.unwrap_or(0.8);
    if max < 1 {
        return Err(AppError::validation("maxDatabases", "must be at least 1"));
    }
    check_threshold(threshold)?;
    let host = instance_input::host(&input.host)?;
    let region = instance_input::region(&input.region)?;
    if input.storage_total_bytes.is_some_and(|bytes| bytes < 0) {
        return Err(AppError::validation(
            "storageTotalBytes",
            "must not be negative",
        ));
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let pool = database_pools::ActiveModel {
        id: Set(Uuid::now_v7()),
        host: Set(host),
        region: Set(region.clone()),
        max_databases: Set(max),
        current_databases: Set(0),
        alert_threshold: Set(threshold),
        status: Set(PoolStatus::Active.as_str().to_owned()),
        storage_used_bytes: Set(0),
        storage_total_bytes: Set(input.storage_total_bytes),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    let metadata = json!({ "host": pool.host, "region": pool.region, "maxDatabases": max });
    uow.record(pool_change("pool.created", pool.id, metadata))
        .await?;
    place_waiters(&mut uow, &region).await?;
    let after = DatabasePools::find_by_id(pool.id).one(&*uow).await?;
    uow.commit().await?;
    Ok(after.unwrap_or(pool))
}

#[derive(Default)]
pub struct PoolChanges {
    pub status: Option<String>,
    pub max_databases: Option<i32>,
    pub alert_threshold: Option<f64>,
}

/// Edits a pool; more room (or reactivation) places waiters at once. Admins only.
pub async fn update_pool(
    actor: &Actor,
    id: Uuid,
    changes: PoolChanges,
) -> AppResult<database_pools::Model> {
    actor.require_admin()?;
    let status = changes
        .status
        .as_deref()
        .map(|raw| {
            PoolStatus::parse(raw)
                .ok_or_else(|| AppError::validation("status", "active, draining or offline"))
        })
        .transpose()?;
    if let Some(threshold) = changes.alert_threshold {
        check_threshold(threshold)?;
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = DatabasePools::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("database pool"))?;
    let mut update = DatabasePools::update_many().col_expr(
        database_pools::Column::UpdatedAt,
        Expr::value(actor.now.fixed_offset()),
    );
    if let Some(status) = status {
        update = update.col_expr(database_pools::Column::Status, Expr::value(status.as_str()));
    }
    if let Some(threshold) = changes.alert_threshold {
        update = update.col_expr(
            database_pools::Column::AlertThreshold,
            Expr::value(threshold),
        );
    }
    let mut update = update.filter(database_pools::Column::Id.eq(id));
    if let Some(max) = changes.max_databases {
        // Never below the databases it already holds: decided by the database, not a read.
        update = update
            .col_expr(database_pools::Column::MaxDatabases, Expr::value(max))
            .filter(database_pools::Column::CurrentDatabases.lte(max));
    }
    if update.exec(&*uow).await?.rows_affected == 0 {
        return Err(AppError::validation(
            "maxDatabases",
            format!("the pool holds {} databases", before.current_databases),
        ));
    }
    let metadata = json!({ "status": changes.status, "maxDatabases": changes.max_databases, "alertThreshold": changes.alert_threshold });
    uow.record(pool_change("pool.updated", id, metadata))
        .await?;
    place_waiters(&mut uow, &before.region).await?;
    let after = DatabasePools::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("database pool"))?;
    uow.commit().await?;
    Ok(after)
}

/// Pools at or past their alert threshold, fullest first, a page at most. Admins only.
pub async fn pools_approaching_capacity(actor: &Actor) -> AppResult<Vec<database_pools::Model>> {
    actor.require_admin()?;
    let current = Expr::col(database_pools::Column::CurrentDatabases).cast_as(Alias::new("REAL"));
    let max = Expr::col(database_pools::Column::MaxDatabases);
    let past_threshold = current
        .clone()
        .gte(Expr::col(database_pools::Column::AlertThreshold).mul(max.clone()));
    let load = current.div(max);
    Ok(DatabasePools::find()
        .filter(database_pools::Column::MaxDatabases.gt(0))
        .filter(past_threshold)
        .order_by(load, Order::Desc)
        .order_by_asc(database_pools::Column::Id)
        .limit(actor.app.config.limits.max_page_size as u64)
        .all(&actor.app.db)
        .await?)
}

/// One page of the pools, oldest first. Admins only.
pub async fn page_pools(actor: &Actor, page: &PageArgs) -> AppResult<Page<database_pools::Model>> {
    actor.require_admin()?;
    let mut query = DatabasePools::find().order_by_asc(database_pools::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(database_pools::Column::Id.gt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count_pools(actor: &Actor) -> AppResult<Count> {
    actor.require_admin()?;
    total_count::count(&actor.app, DatabasePools::find()).await
}
