//! Database pools (admin) and customer instances (developers), placed by their plan's tier.

use super::placement::{place_waiters, record_event, release_slot, take_slot};
use super::validate;
use crate::auth::{Caller, RequestMeta, Role};
use crate::domain::audit::service::{self as audit, AuditEntry};
use crate::domain::entitlements::resolve::{Entitlements, resolve_one};
use crate::error::{AppError, AppResult};
use crate::events::{DomainEvent, UnitOfWork};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{database_pools, instances, prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Statuses in which an instance counts against its developer's limit.
pub const LIVE: &[&str] = &[
    "provisioning",
    "waiting_for_capacity",
    "running",
    "suspended",
    "error",
];
/// Statuses in which a shared instance holds a pool slot.
const HOLDS_SLOT: &[&str] = &["provisioning", "running", "suspended", "error"];

fn instance_event(kind: &str, instance: &instances::Model, now: DateTime<Utc>) -> DomainEvent {
    DomainEvent {
        kind: kind.to_owned(),
        entity_id: instance.id,
        developer_id: Some(instance.developer_id),
        data: json!({ "status": instance.status, "poolId": instance.pool_id }),
        occurred_at: now,
    }
}

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

/// Adds a shared pool and places waiting instances of its region onto it. Admins only.
pub async fn create_pool(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    input: NewPool,
    now: DateTime<Utc>,
) -> AppResult<database_pools::Model> {
    caller.require_admin()?;
    let max = input.max_databases.unwrap_or(150);
    let threshold = input.alert_threshold.unwrap_or(0.8);
    if max < 1 {
        return Err(AppError::validation("maxDatabases", "must be at least 1"));
    }
    check_threshold(threshold)?;
    let host = input.host.trim().to_lowercase();
    let region = input.region.trim().to_lowercase();
    if host.is_empty() || region.is_empty() {
        return Err(AppError::validation("host", "host and region are required"));
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let pool = database_pools::ActiveModel {
        id: Set(Uuid::now_v7()),
        host: Set(host),
        region: Set(region.clone()),
        max_databases: Set(max),
        current_databases: Set(0),
        alert_threshold: Set(threshold),
        status: Set("active".to_owned()),
        storage_used_bytes: Set(0),
        storage_total_bytes: Set(input.storage_total_bytes),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    audit::record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: "pool.created",
            entity_type: "database_pool",
            entity_id: pool.id,
            owner_id: None,
            metadata: json!({ "host": pool.host, "region": pool.region, "maxDatabases": max }),
        },
    )
    .await?;
    let placed = place_waiters(&*uow, &region, now).await?;
    for instance in &placed {
        uow.publish(instance_event("instance.placed", instance, now));
    }
    uow.commit().await?;
    Ok(DatabasePools::find_by_id(pool.id)
        .one(&app.db)
        .await?
        .unwrap_or(pool))
}

#[derive(Default)]
pub struct PoolChanges {
    pub status: Option<String>,
    pub max_databases: Option<i32>,
    pub alert_threshold: Option<f64>,
}

/// Edits a pool; more room (or reactivation) places waiters at once. Admins only.
pub async fn update_pool(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: PoolChanges,
    now: DateTime<Utc>,
) -> AppResult<database_pools::Model> {
    caller.require_admin()?;
    if let Some(status) = &changes.status
        && !["active", "draining", "offline"].contains(&status.as_str())
    {
        return Err(AppError::validation(
            "status",
            "active, draining or offline",
        ));
    }
    if let Some(threshold) = changes.alert_threshold {
        check_threshold(threshold)?;
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = DatabasePools::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("database pool"))?;
    let mut update = DatabasePools::update_many().col_expr(
        database_pools::Column::UpdatedAt,
        Expr::value(now.fixed_offset()),
    );
    if let Some(status) = &changes.status {
        update = update.col_expr(database_pools::Column::Status, Expr::value(status.clone()));
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
    audit::record(&*uow, caller, meta, now, AuditEntry {
        event_type: "pool.updated",
        entity_type: "database_pool",
        entity_id: id,
        owner_id: None,
        metadata: json!({ "status": changes.status, "maxDatabases": changes.max_databases, "alertThreshold": changes.alert_threshold }),
    })
    .await?;
    for placed in place_waiters(&*uow, &before.region, now).await? {
        uow.publish(instance_event("instance.placed", &placed, now));
    }
    let after = DatabasePools::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("database pool"))?;
    uow.commit().await?;
    Ok(after)
}

/// Pools at or past their alert threshold, fullest first. Admins only.
pub async fn pools_approaching_capacity(
    app: &AppState,
    caller: &Caller,
) -> AppResult<Vec<database_pools::Model>> {
    let mut pools: Vec<_> = list_pools(app, caller)
        .await?
        .into_iter()
        .filter(|p| {
            f64::from(p.current_databases) >= p.alert_threshold * f64::from(p.max_databases)
        })
        .collect();
    pools.sort_by(|a, b| {
        let load = |p: &database_pools::Model| {
            f64::from(p.current_databases) / f64::from(p.max_databases.max(1))
        };
        load(b).total_cmp(&load(a))
    });
    Ok(pools)
}

pub async fn list_pools(app: &AppState, caller: &Caller) -> AppResult<Vec<database_pools::Model>> {
    caller.require_admin()?;
    Ok(DatabasePools::find()
        .order_by_asc(database_pools::Column::Id)
        .all(&app.db)
        .await?)
}

/// The developer's entitlements, read inside the transaction: a plan limit is enforced against
/// what is committed, not what a cache last saw.
async fn developer_limits(
    conn: &impl ConnectionTrait,
    developer_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Entitlements> {
    let entitlements = resolve_one(conn, developer_id, now).await?;
    if entitlements.plan_code.is_none() {
        return Err(AppError::Forbidden(
            "a usable license is needed to create instances",
        ));
    }
    Ok(entitlements)
}

pub struct NewInstance {
    pub name: String,
    pub subdomain: String,
    pub region: String,
}

/// Creates an instance on the tier the developer's plan decides. Shared: placed in the
/// least-loaded pool of the region with room, or left waiting for capacity. Dedicated:
/// provisioning until an admin completes it.
pub async fn create_instance(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    input: NewInstance,
    now: DateTime<Utc>,
) -> AppResult<instances::Model> {
    let (developer_id, role) = caller.require_user()?;
    if role != Role::Developer {
        return Err(AppError::Forbidden("instances belong to developers"));
    }
    let subdomain = validate::subdomain(&input.subdomain)?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let region = input.region.trim().to_lowercase();
    if region.is_empty() {
        return Err(AppError::validation("region", "required"));
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    // Serialise one developer's creations so the plan limit holds under concurrency.
    Users::update_many()
        .col_expr(
            users::Column::UpdatedAt,
            Expr::col(users::Column::UpdatedAt),
        )
        .filter(users::Column::Id.eq(developer_id))
        .exec(&*uow)
        .await?;
    let limits = developer_limits(&*uow, developer_id, now).await?;
    let live = Instances::find()
        .filter(instances::Column::DeveloperId.eq(developer_id))
        .filter(instances::Column::Status.is_in(LIVE.iter().copied()))
        .count(&*uow)
        .await?;
    let limit = [
        limits.limit("max_customers"),
        limits.limit("max_workspaces"),
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(limit) = limit
        && live >= limit.max(0) as u64
    {
        return Err(AppError::QuotaExceeded {
            metric: "instances".into(),
            limit,
            current: live as i64,
            index: None,
        });
    }
    let taken = Instances::find()
        .filter(instances::Column::Subdomain.eq(subdomain.as_str()))
        .filter(instances::Column::Status.ne("deleted"))
        .count(&*uow)
        .await?;
    if taken > 0 {
        return Err(AppError::Conflict {
            reason: "SUBDOMAIN_TAKEN",
            message: "this subdomain is in use".into(),
        });
    }
    let id = Uuid::now_v7();
    let short = &id.simple().to_string()[20..];
    let dedicated = limits.value("db_type").and_then(|v| v.as_str()) == Some("dedicated");
    let pool = if dedicated {
        None
    } else {
        take_slot(&*uow, &region, now).await?
    };
    let status = match (&pool, dedicated) {
        (_, true) | (Some(_), false) => "provisioning",
        (None, false) => "waiting_for_capacity",
    };
    let instance = instances::ActiveModel {
        id: Set(id),
        developer_id: Set(developer_id),
        name: Set(name),
        subdomain: Set(subdomain),
        region: Set(region.clone()),
        tier: Set(if dedicated { "dedicated" } else { "shared" }.to_owned()),
        status: Set(status.to_owned()),
        pool_id: Set(pool.as_ref().map(|p| p.id)),
        database_name: Set(format!("instance_{short}")),
        database_user: Set(format!("instance_{short}")),
        database_host: Set(pool.as_ref().map(|p| p.host.clone())),
        failure_reason: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    record_event(
        &*uow,
        id,
        "instance.created",
        None,
        status,
        pool.as_ref().map(|p| format!("placed on {}", p.host)),
        now,
    )
    .await?;
    audit::record(&*uow, caller, meta, now, AuditEntry {
        event_type: "instance.created",
        entity_type: "instance",
        entity_id: id,
        owner_id: Some(developer_id),
        metadata: json!({ "subdomain": instance.subdomain, "tier": instance.tier, "status": status, "poolId": instance.pool_id }),
    })
    .await?;
    uow.publish(instance_event("instance.created", &instance, now));
    if status == "waiting_for_capacity" {
        // Operators watch for this: the region needs another pool.
        uow.publish(DomainEvent {
            kind: "pool.capacity_exhausted".into(),
            entity_id: id,
            developer_id: None,
            data: json!({ "region": region }),
            occurred_at: now,
        });
    }
    uow.commit().await?;
    Ok(instance)
}

/// Deletes an instance; a freed pool slot goes to the region's oldest waiter at once.
pub async fn delete_instance(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<instances::Model> {
    caller.require_user()?;
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .filter(|i| caller.can_see_developer(i.developer_id))
        .ok_or(AppError::NotFound("instance"))?;
    super::transitions::check(&before.status, "deleted")?;
    let deleted = Instances::update_many()
        .col_expr(instances::Column::Status, Expr::value("deleted"))
        .col_expr(
            instances::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(instances::Column::Id.eq(id))
        .filter(instances::Column::Status.eq(before.status.as_str()))
        .exec(&*uow)
        .await?;
    if before.status == "deleted" || deleted.rows_affected == 0 {
        return Err(AppError::InvalidTransition {
            from: before.status.clone(),
            to: "deleted".into(),
        });
    }
    record_event(
        &*uow,
        id,
        "instance.deleted",
        Some(&before.status),
        "deleted",
        None,
        now,
    )
    .await?;
    audit::record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: "instance.deleted",
            entity_type: "instance",
            entity_id: id,
            owner_id: Some(before.developer_id),
            metadata: json!({ "from": before.status, "poolId": before.pool_id }),
        },
    )
    .await?;
    let after = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance"))?;
    uow.publish(instance_event("instance.deleted", &after, now));
    if let Some(pool_id) = before
        .pool_id
        .filter(|_| HOLDS_SLOT.contains(&before.status.as_str()))
    {
        release_slot(&*uow, pool_id, now).await?;
        for placed in place_waiters(&*uow, &before.region, now).await? {
            uow.publish(instance_event("instance.placed", &placed, now));
        }
    }
    uow.commit().await?;
    Ok(after)
}

/// A requested move of an instance's state.
pub enum InstanceMove {
    MarkRunning,
    Suspend,
    Resume,
    Fail {
        reason: String,
    },
    /// Dedicated instances: an admin reports the server it runs on.
    CompleteProvisioning {
        host: String,
    },
}

impl InstanceMove {
    fn target(&self) -> &'static str {
        match self {
            Self::MarkRunning | Self::Resume | Self::CompleteProvisioning { .. } => "running",
            Self::Suspend => "suspended",
            Self::Fail { .. } => "error",
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::MarkRunning => "instance.running",
            Self::Suspend => "instance.suspended",
            Self::Resume => "instance.resumed",
            Self::Fail { .. } => "instance.failed",
            Self::CompleteProvisioning { .. } => "instance.provisioned",
        }
    }
}

/// Moves an instance through its state machine. Admins; owners may suspend and resume their own.
pub async fn move_instance(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    change: InstanceMove,
    now: DateTime<Utc>,
) -> AppResult<instances::Model> {
    caller.require_user()?;
    let owner_may = matches!(change, InstanceMove::Suspend | InstanceMove::Resume);
    if !caller.is_admin() && !owner_may {
        return Err(AppError::Forbidden("admins only"));
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .filter(|i| caller.can_see_developer(i.developer_id))
        .ok_or(AppError::NotFound("instance"))?;
    let to = change.target();
    if matches!(change, InstanceMove::Resume) && before.status != "suspended" {
        return Err(AppError::InvalidTransition {
            from: before.status.clone(),
            to: to.into(),
        });
    }
    super::transitions::check(&before.status, to)?;
    let mut update = Instances::update_many()
        .col_expr(instances::Column::Status, Expr::value(to))
        .col_expr(
            instances::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        );
    let mut message = None;
    match &change {
        InstanceMove::Fail { reason } => {
            update = update.col_expr(
                instances::Column::FailureReason,
                Expr::value(reason.clone()),
            );
            message = Some(reason.clone());
        }
        InstanceMove::CompleteProvisioning { host } => {
            if before.tier != "dedicated" {
                return Err(AppError::validation(
                    "id",
                    "only dedicated instances are provisioned by hand",
                ));
            }
            let host = host.trim().to_lowercase();
            if host.is_empty() {
                return Err(AppError::validation("host", "required"));
            }
            update = update.col_expr(instances::Column::DatabaseHost, Expr::value(host.clone()));
            message = Some(format!("running on {host}"));
        }
        _ => {}
    }
    let moved = update
        .filter(instances::Column::Id.eq(id))
        .filter(instances::Column::Status.eq(before.status.as_str()))
        .exec(&*uow)
        .await?;
    if moved.rows_affected == 0 {
        return Err(AppError::Conflict {
            reason: "CONCURRENT_UPDATE",
            message: "the instance changed meanwhile; retry".into(),
        });
    }
    record_event(
        &*uow,
        id,
        change.kind(),
        Some(&before.status),
        to,
        message,
        now,
    )
    .await?;
    audit::record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: change.kind(),
            entity_type: "instance",
            entity_id: id,
            owner_id: Some(before.developer_id),
            metadata: json!({ "from": before.status, "to": to }),
        },
    )
    .await?;
    let after = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance"))?;
    uow.publish(instance_event(change.kind(), &after, now));
    uow.commit().await?;
    Ok(after)
}

/// Instances the caller may see: admins all, developers their own.
pub async fn list_instances(app: &AppState, caller: &Caller) -> AppResult<Vec<instances::Model>> {
    let mut query = Instances::find().order_by_asc(instances::Column::Id);
    match caller.require_user()? {
        (_, Role::Admin) => {}
        (id, _) => query = query.filter(instances::Column::DeveloperId.eq(id)),
    }
    Ok(query.all(&app.db).await?)
}
