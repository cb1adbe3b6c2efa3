//! Customer instances (developers): created on the tier their plan decides, moved through
//! their state machine, deleted; a freed pool slot goes to the region's oldest waiter.

use super::changes::{HistoryLine, change, write_history};
use super::input;
use super::model::InstanceStatus;
use super::paid;
use super::transitions;
use crate::auth::{Actor, Role};
use crate::domain::accounts::service::lock_developer;
use crate::domain::entitlements::resolve::{Entitlements, resolve_one};
use crate::domain::plans::model::DbType;
use crate::domain::pools::placement::{place_waiters, release_slot, take_slot};
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Event, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Utc};
use entity::{instance_tokens, instances, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

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
pub async fn create_instance(actor: &Actor, new: NewInstance) -> AppResult<instances::Model> {
    let (developer_id, role) = actor.require_user()?;
    if role != Role::Developer {
        return Err(AppError::Forbidden("instances belong to developers"));
    }
    let now = actor.now;
    let subdomain = input::subdomain(&new.subdomain)?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let region = input::region(&new.region)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    // Serialise one developer's creations so the plan limit holds under concurrency.
    lock_developer(&*uow, developer_id).await?;
    let limits = developer_limits(&*uow, developer_id, now).await?;
    let live = Instances::find()
        .filter(instances::Column::DeveloperId.eq(developer_id))
        .filter(instances::Column::Status.is_in(InstanceStatus::texts(InstanceStatus::LIVE)))
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
        .filter(instances::Column::Status.ne(InstanceStatus::Deleted.as_str()))
        .count(&*uow)
        .await?;
    if taken > 0 {
        return Err(ConflictReason::SubdomainTaken.into());
    }
    let id = Uuid::now_v7();
    let short = &id.simple().to_string()[20..];
    let tier = match limits.value("db_type").and_then(|v| v.as_str()) {
        Some(raw) => DbType::from_stored(raw)?,
        None => DbType::Shared,
    };
    let pool = match tier {
        DbType::Dedicated => None,
        DbType::Shared => take_slot(&mut uow, &region, now).await?,
    };
    let status = match (&pool, tier) {
        (Some(_), DbType::Shared) => InstanceStatus::Provisioning,
        (None, DbType::Shared) => InstanceStatus::WaitingForCapacity,
        // A server of its own is provisioned once paid for.
        (_, DbType::Dedicated) if paid::has_paid(&*uow, developer_id).await? => {
            InstanceStatus::Provisioning
        }
        (_, DbType::Dedicated) => InstanceStatus::WaitingForCapacity,
    };
    let instance = instances::ActiveModel {
        id: Set(id),
        developer_id: Set(developer_id),
        name: Set(name),
        subdomain: Set(subdomain),
        region: Set(region.clone()),
        tier: Set(tier.as_str().to_owned()),
        status: Set(status.as_str().to_owned()),
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
    let message = match (&pool, tier, status) {
        (Some(pool), _, _) => Some(format!("placed on {}", pool.host)),
        (None, DbType::Dedicated, InstanceStatus::WaitingForCapacity) => {
            Some("waiting for the first payment of the plan".to_owned())
        }
        _ => None,
    };
    let line = HistoryLine {
        kind: "instance.created",
        from: None,
        to: status.as_str(),
        message,
    };
    write_history(&*uow, id, line, now).await?;
    let metadata = json!({ "subdomain": instance.subdomain, "tier": instance.tier, "status": status.as_str(), "poolId": instance.pool_id });
    uow.record(change("instance.created", &instance, metadata))
        .await?;
    if status == InstanceStatus::WaitingForCapacity && tier == DbType::Shared {
        // Operators watch for this: the region needs another pool.
        uow.publish(Event {
            kind: "pool.capacity_exhausted".into(),
            entity_id: id,
            developer_id: None,
            data: json!({ "region": region }),
        });
    }
    uow.commit().await?;
    Ok(instance)
}

/// An instance the caller may change: admins any, developers their own.
async fn owned_instance(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<(instances::Model, InstanceStatus)> {
    let instance = Instances::find_by_id(id)
        .one(conn)
        .await?
        .filter(|i| actor.manages(i.developer_id))
        .ok_or(AppError::NotFound("instance"))?;
    let status = InstanceStatus::from_stored(&instance.status)?;
    Ok((instance, status))
}

/// Deletes an instance; a freed pool slot goes to the region's oldest waiter at once.
pub async fn delete_instance(actor: &Actor, id: Uuid) -> AppResult<instances::Model> {
    actor.require_user()?;
    let now = actor.now;
    let to = InstanceStatus::Deleted;
    let mut uow = UnitOfWork::begin(actor).await?;
    let (before, from) = owned_instance(&*uow, actor, id).await?;
    transitions::check(from, to)?;
    let update = Instances::update_many()
        .col_expr(instances::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            instances::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(instances::Column::Id.eq(id));
    // A delete that lost a race to another change is refused as the move it no longer is.
    uow.compare_and_set(update, instances::Column::Status, from.as_str())
        .await
        .map_err(|_| AppError::InvalidTransition {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
        })?;
    let line = HistoryLine {
        kind: "instance.deleted",
        from: Some(from.as_str()),
        to: to.as_str(),
        message: None,
    };
    write_history(&*uow, id, line, now).await?;
    let after = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance"))?;
    let metadata = json!({ "from": before.status, "poolId": before.pool_id });
    uow.record(change("instance.deleted", &after, metadata))
        .await?;
    if let Some(pool_id) = before.pool_id.filter(|_| from.holds_slot()) {
        release_slot(&*uow, pool_id, now).await?;
        place_waiters(&mut uow, &before.region).await?;
    }
    let tokens: Vec<Uuid> = InstanceTokens::find()
        .select_only()
        .column(instance_tokens::Column::Id)
        .filter(instance_tokens::Column::InstanceId.eq(id))
        .into_tuple()
        .all(&*uow)
        .await?;
    uow.commit().await?;
    // Its tokens open nothing now: sockets opened with them close, on every gateway.
    actor.app.liveness.forget(&actor.app.bus, &tokens).await;
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
    fn target(&self) -> InstanceStatus {
        match self {
            Self::MarkRunning | Self::Resume | Self::CompleteProvisioning { .. } => {
                InstanceStatus::Running
            }
            Self::Suspend => InstanceStatus::Suspended,
            Self::Fail { .. } => InstanceStatus::Error,
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
    actor: &Actor,
    id: Uuid,
    change_to: InstanceMove,
) -> AppResult<instances::Model> {
    actor.require_user()?;
    let owner_may = matches!(change_to, InstanceMove::Suspend | InstanceMove::Resume);
    if !actor.is_admin() && !owner_may {
        return Err(AppError::Forbidden("admins only"));
    }
    let now = actor.now;
    let mut uow = UnitOfWork::begin(actor).await?;
    let (before, from) = owned_instance(&*uow, actor, id).await?;
    let to = change_to.target();
    if matches!(change_to, InstanceMove::Resume) && from != InstanceStatus::Suspended {
        return Err(AppError::InvalidTransition {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
        });
    }
    transitions::check(from, to)?;
    let mut update = Instances::update_many()
        .col_expr(instances::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            instances::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        );
    let mut message = None;
    match &change_to {
        InstanceMove::Fail { reason } => {
            update = update.col_expr(
                instances::Column::FailureReason,
                Expr::value(reason.clone()),
            );
            message = Some(reason.clone());
        }
        InstanceMove::CompleteProvisioning { host } => {
            if DbType::from_stored(&before.tier)? != DbType::Dedicated {
                return Err(AppError::validation(
                    "id",
                    "only dedicated instances are provisioned by hand",
                ));
            }
            let host = input::host(host)?;
            update = update.col_expr(instances::Column::DatabaseHost, Expr::value(host.clone()));
            message = Some(format!("running on {host}"));
        }
        _ => {}
    }
    let update = update.filter(instances::Column::Id.eq(id));
    uow.compare_and_set(update, instances::Column::Status, from.as_str())
        .await?;
    let line = HistoryLine {
        kind: change_to.kind(),
        from: Some(from.as_str()),
        to: to.as_str(),
        message,
    };
    write_history(&*uow, id, line, now).await?;
    let after = Instances::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance"))?;
    let metadata = json!({ "from": before.status, "to": to.as_str() });
    uow.record(change(change_to.kind(), &after, metadata))
        .await?;
    uow.commit().await?;
    Ok(after)
}

/// Instances the caller may see: admins all (or one developer's), developers their own.
fn visible(actor: &Actor, developer: Option<Uuid>) -> AppResult<Select<Instances>> {
    let mut query = Instances::find();
    if let (id, Role::Developer | Role::Member) = actor.require_user()? {
        query = query.filter(instances::Column::DeveloperId.eq(id));
    }
    if let Some(developer) = developer {
        query = query.filter(instances::Column::DeveloperId.eq(developer));
    }
    Ok(query)
}

/// One page of the instances the caller may see, oldest first.
pub async fn page_instances(
    actor: &Actor,
    developer: Option<Uuid>,
    page: &PageArgs,
) -> AppResult<Page<instances::Model>> {
    let mut query = visible(actor, developer)?.order_by_asc(instances::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(instances::Column::Id.gt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count_instances(actor: &Actor, developer: Option<Uuid>) -> AppResult<Count> {
    total_count::count(&actor.app, visible(actor, developer)?).await
}
