//! Runtime nodes: the vendor's deployed software registering by fingerprint and checking in.
//!
//! Activations on one license are serialised by locking the license row first (a no-op UPDATE,
//! which is a row lock on PostgreSQL and the write lock on SQLite), so the plan's node limit
//! holds under any concurrency. A node is alive until its heartbeat deadline; a dead node holds
//! no slot, may come back within the resurrection window, and must re-activate after it.

use super::model::NodeStatus;
use super::quick_heartbeat;
use crate::auth::{Actor, Caller};
use crate::domain::licenses::changes::event;
use crate::domain::licenses::model::LicenseState;
use crate::domain::validation::service::{MAX_FINGERPRINT_CHARS, wrong_key};
use crate::domain::validation::verdict::{ValidationCode, license_code};
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, UnitOfWork};
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, plan_entitlements, prelude::*, runtime_nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

const ACTIVE: &str = NodeStatus::Active.as_str();

/// A node, with the developer whose license it runs on (who may see it follows from that).
pub type Node = (runtime_nodes::Model, Uuid);

/// What a node says about itself when it activates.
pub struct NodeInput {
    pub fingerprint: String,
    pub app_url: Option<String>,
    pub version: Option<String>,
    pub name: Option<String>,
}

/// A heartbeat's answer: the license's current standing and the next deadline.
pub struct CheckIn {
    pub code: ValidationCode,
    pub license: Option<licenses::Model>,
    pub node: Option<runtime_nodes::Model>,
}

fn utc(t: &sea_orm::prelude::DateTimeWithTimeZone) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

/// The license's own standing now, before any node is considered.
pub(super) fn standing(license: &licenses::Model, now: DateTime<Utc>) -> AppResult<ValidationCode> {
    Ok(license_code(
        LicenseState::from_stored(&license.state)?,
        license.expires_at.as_ref().map(utc),
        license.grace_ends_at.as_ref().map(utc),
        now,
    ))
}

fn usable_or_conflict(license: &licenses::Model, now: DateTime<Utc>) -> AppResult<()> {
    match standing(license, now)? {
        ValidationCode::Valid => Ok(()),
        other => Err(AppError::conflict(other.conflict_reason(), other.detail())),
    }
}

/// The license a presented key opens. Sources that fail too often are refused first, and a
/// miss counts against them.
pub(crate) async fn license_by_key(actor: &Actor, key: &str) -> AppResult<Option<licenses::Model>> {
    let app = &actor.app;
    let found = Licenses::find()
        .filter(licenses::Column::KeyHash.eq(app.license_keys.digest(key)))
        .one(&app.db)
        .await?;
    if found.is_none()
        && let Some(retry_after) = wrong_key(app, actor.meta.ip.as_deref()).await
    {
        return Err(AppError::RateLimited { retry_after });
    }
    Ok(found)
}

/// Locks the license row for the rest of the transaction.
async fn lock_license(conn: &impl ConnectionTrait, license_id: Uuid) -> AppResult<()> {
    Licenses::update_many()
        .col_expr(
            licenses::Column::UpdatedAt,
            Expr::col(licenses::Column::UpdatedAt),
        )
        .filter(licenses::Column::Id.eq(license_id))
        .exec(conn)
        .await?;
    Ok(())
}

async fn entitlements(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> AppResult<plan_entitlements::Model> {
    PlanEntitlements::find_by_id(plan_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("plan has no entitlements")))
}

async fn alive_nodes(
    conn: &impl ConnectionTrait,
    license_id: Uuid,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> AppResult<u64> {
    let mut query = RuntimeNodes::find()
        .filter(runtime_nodes::Column::LicenseId.eq(license_id))
        .filter(runtime_nodes::Column::Status.eq(ACTIVE))
        .filter(runtime_nodes::Column::HeartbeatDeadlineAt.gte(now.fixed_offset()));
    if let Some(id) = except {
        query = query.filter(runtime_nodes::Column::Id.ne(id));
    }
    Ok(query.count(conn).await?)
}

/// Refuses when the plan's node limit leaves no free slot.
async fn ensure_slot(
    conn: &impl ConnectionTrait,
    license_id: Uuid,
    limits: &plan_entitlements::Model,
    now: DateTime<Utc>,
    except: Option<Uuid>,
) -> AppResult<()> {
    let Some(max) = limits.max_runtime_nodes else {
        return Ok(());
    };
    if alive_nodes(conn, license_id, now, except).await? >= max.max(0) as u64 {
        return Err(AppError::conflict(
            ConflictReason::TooManyMachines,
            format!("the plan allows {max} live runtime nodes"),
        ));
    }
    Ok(())
}

async fn active_node(
    conn: &impl ConnectionTrait,
    license_id: Uuid,
    fingerprint: &str,
) -> AppResult<Option<runtime_nodes::Model>> {
    Ok(RuntimeNodes::find()
        .filter(runtime_nodes::Column::LicenseId.eq(license_id))
        .filter(runtime_nodes::Column::Fingerprint.eq(fingerprint))
        .filter(runtime_nodes::Column::Status.eq(ACTIVE))
        .one(conn)
        .await?)
}

fn window(limits: &plan_entitlements::Model) -> Duration {
    Duration::seconds(i64::from(limits.heartbeat_window_seconds.max(1)))
}

fn validate_input(input: &NodeInput) -> AppResult<()> {
    let fingerprint = input.fingerprint.trim();
    if fingerprint.is_empty()
        || fingerprint.chars().count() > MAX_FINGERPRINT_CHARS
        || fingerprint.contains('\0')
    {
        return Err(AppError::validation(
            "fingerprint",
            "must be 1 to 255 characters, no NUL",
        ));
    }
    Ok(())
}

/// Activates (or returns the existing) node inside an open unit of work whose license is locked.
async fn activate_locked(
    uow: &mut UnitOfWork<'_>,
    license: &licenses::Model,
    input: NodeInput,
) -> AppResult<runtime_nodes::Model> {
    let actor = uow.actor();
    let now = actor.now;
    let limits = entitlements(&**uow, license.plan_id).await?;
    let resurrection = Duration::seconds(actor.app.config.licensing.node_resurrection_seconds);
    let fingerprint = input.fingerprint.trim().to_owned();
    if let Some(existing) = active_node(&**uow, license.id, &fingerprint).await? {
        let deadline = utc(&existing.heartbeat_deadline_at);
        if deadline >= now {
            // Same license, same fingerprint, still alive: activation is idempotent.
            return Ok(existing);
        }
        if deadline + resurrection >= now {
            ensure_slot(&**uow, license.id, &limits, now, Some(existing.id)).await?;
            return revive(uow, license, existing, &limits, input.version).await;
        }
        retire(&**uow, existing, now).await?;
    }
    ensure_slot(&**uow, license.id, &limits, now, None).await?;
    let node = runtime_nodes::ActiveModel {
        id: Set(Uuid::now_v7()),
        license_id: Set(license.id),
        fingerprint: Set(fingerprint),
        name: Set(input.name),
        app_url: Set(input.app_url),
        version: Set(input.version),
        status: Set(ACTIVE.to_owned()),
        last_check_in_at: Set(now.into()),
        heartbeat_deadline_at: Set((now + window(&limits)).into()),
        activated_at: Set(now.into()),
        deactivated_at: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        dead_announced_at: Set(None),
    }
    .insert(&**uow)
    .await?;
    let metadata = json!({ "licenseId": license.id, "fingerprint": node.fingerprint, "version": node.version });
    uow.record(
        node_change("node.activated", &node, license, metadata)
            .publish(event("license.node_activated", license)),
    )
    .await?;
    Ok(node)
}

/// A change to a node, audited on the node and owned by its license's developer.
pub(super) fn node_change(
    kind: &str,
    node: &runtime_nodes::Model,
    license: &licenses::Model,
    metadata: serde_json::Value,
) -> Change {
    Change::new(kind, "runtime_node", node.id)
        .owner(license.developer_id)
        .metadata(metadata)
}

async fn retire(
    conn: &impl ConnectionTrait,
    node: runtime_nodes::Model,
    now: DateTime<Utc>,
) -> AppResult<runtime_nodes::Model> {
    let mut retired = node.into_active_model();
    retired.status = Set(NodeStatus::Deactivated.as_str().to_owned());
    retired.deactivated_at = Set(Some(now.into()));
    retired.updated_at = Set(now.into());
    Ok(retired.update(conn).await?)
}

async fn revive(
    uow: &mut UnitOfWork<'_>,
    license: &licenses::Model,
    node: runtime_nodes::Model,
    limits: &plan_entitlements::Model,
    version: Option<String>,
) -> AppResult<runtime_nodes::Model> {
    let now = uow.actor().now;
    let mut alive = node.into_active_model();
    alive.last_check_in_at = Set(now.into());
    alive.heartbeat_deadline_at = Set((now + window(limits)).into());
    alive.updated_at = Set(now.into());
    // Back from the dead: should it die again, that is announced again.
    alive.dead_announced_at = Set(None);
    if version.is_some() {
        alive.version = Set(version);
    }
    let node = alive.update(&**uow).await?;
    let metadata = json!({ "licenseId": node.license_id });
    uow.record(
        node_change("node.resurrected", &node, license, metadata)
            .publish(event("license.node_resurrected", license)),
    )
    .await?;
    Ok(node)
}

/// `activateRuntimeNode`: the key is the credential.
#[tracing::instrument(skip_all)]
pub async fn activate(actor: &Actor, key: &str, input: NodeInput) -> AppResult<Node> {
    validate_input(&input)?;
    let license = license_by_key(actor, key)
        .await?
        .ok_or(AppError::NotFound("license"))?;
    usable_or_conflict(&license, actor.now)?;
    let key_holder = actor.acting_as(Caller::LicenseKey {
        license_id: license.id,
    });
    let mut uow = UnitOfWork::begin(&key_holder).await?;
    lock_license(&*uow, license.id).await?;
    let node = activate_locked(&mut uow, &license, input).await?;
    uow.commit().await?;
    Ok((node, license.developer_id))
}

/// A heartbeat from a node identified by key and fingerprint.
#[tracing::instrument(skip_all)]
pub async fn check_in_by_key(
    actor: &Actor,
    key: &str,
    fingerprint: &str,
    version: Option<String>,
) -> AppResult<CheckIn> {
    let fingerprint = fingerprint.trim();
    if let Some(answer) =
        quick_heartbeat::check_in(actor, key, fingerprint, version.as_deref()).await?
    {
        return Ok(answer);
    }
    let db = &actor.app.db;
    let Some(license) = license_by_key(actor, key).await? else {
        return Ok(CheckIn {
            code: ValidationCode::NotFound,
            license: None,
            node: None,
        });
    };
    let node = active_node(db, license.id, fingerprint).await?;
    let Some(node) = node else {
        let any = RuntimeNodes::find()
            .filter(runtime_nodes::Column::LicenseId.eq(license.id))
            .filter(runtime_nodes::Column::Status.eq(ACTIVE))
            .count(db)
            .await?;
        let code = if any == 0 {
            ValidationCode::NoMachine
        } else {
            ValidationCode::FingerprintScopeMismatch
        };
        return Ok(CheckIn {
            code,
            license: Some(license),
            node: None,
        });
    };
    let key_holder = actor.acting_as(Caller::LicenseKey {
        license_id: license.id,
    });
    heartbeat(&key_holder, license, node, version).await
}

/// A heartbeat by node id from a signed-in owner or admin.
pub async fn check_in_by_id(
    actor: &Actor,
    node_id: Uuid,
    version: Option<String>,
) -> AppResult<CheckIn> {
    let (node, license) = owned_node(actor, node_id).await?;
    if node.status != ACTIVE {
        return Ok(CheckIn {
            code: ValidationCode::HeartbeatDead,
            license: Some(license),
            node: Some(node),
        });
    }
    heartbeat(actor, license, node, version).await
}

async fn heartbeat(
    actor: &Actor,
    license: licenses::Model,
    node: runtime_nodes::Model,
    version: Option<String>,
) -> AppResult<CheckIn> {
    let now = actor.now;
    let resurrection = Duration::seconds(actor.app.config.licensing.node_resurrection_seconds);
    let deadline = utc(&node.heartbeat_deadline_at);
    let mut uow = UnitOfWork::begin(actor).await?;
    let limits = entitlements(&*uow, license.plan_id).await?;
    let node = if deadline >= now {
        let mut alive = node.into_active_model();
        alive.last_check_in_at = Set(now.into());
        alive.heartbeat_deadline_at = Set((now + window(&limits)).into());
        alive.updated_at = Set(now.into());
        if version.is_some() {
            alive.version = Set(version);
        }
        alive.update(&*uow).await?
    } else if deadline + resurrection >= now {
        lock_license(&*uow, license.id).await?;
        if let Err(err) = ensure_slot(&*uow, license.id, &limits, now, Some(node.id)).await {
            drop(uow);
            if matches!(err, AppError::Conflict { .. }) {
                return Ok(CheckIn {
                    code: ValidationCode::TooManyMachines,
                    license: Some(license),
                    node: Some(node),
                });
            }
            return Err(err);
        }
        revive(&mut uow, &license, node, &limits, version).await?
    } else {
        let node = retire(&*uow, node, now).await?;
        let metadata = json!({ "licenseId": license.id, "deadline": deadline });
        // Too late to come back: the node is deactivated and must activate again.
        uow.record(
            node_change("node.died", &node, &license, metadata)
                .publish(event("license.node_checked_in_late", &license)),
        )
        .await?;
        uow.commit().await?;
        return Ok(CheckIn {
            code: ValidationCode::HeartbeatDead,
            license: Some(license),
            node: Some(node),
        });
    };
    uow.commit().await?;
    Ok(CheckIn {
        code: standing(&license, now)?,
        license: Some(license),
        node: Some(node),
    })
}

/// A node and its license, if the caller owns the license or is an admin.
async fn owned_node(
    actor: &Actor,
    node_id: Uuid,
) -> AppResult<(runtime_nodes::Model, licenses::Model)> {
    actor.require_user()?;
    let (node, license) = RuntimeNodes::find_by_id(node_id)
        .find_also_related(Licenses)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("runtime node"))?;
    let license = license
        .filter(|l| actor.manages(l.developer_id))
        .ok_or(AppError::NotFound("runtime node"))?;
    Ok((node, license))
}

/// Frees a node's slot. Owners and admins.
pub async fn deactivate(actor: &Actor, node_id: Uuid) -> AppResult<Node> {
    let (node, license) = owned_node(actor, node_id).await?;
    if node.status != ACTIVE {
        return Err(ConflictReason::NotActive.into());
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let node = retire(&*uow, node, actor.now).await?;
    let metadata = json!({ "licenseId": license.id, "fingerprint": node.fingerprint });
    uow.record(
        node_change("node.deactivated", &node, &license, metadata)
            .publish(event("license.node_deactivated", &license)),
    )
    .await?;
    uow.commit().await?;
    Ok((node, license.developer_id))
}

/// Swaps a node for a new fingerprint in one transaction: the old one's slot passes to the new.
pub async fn replace(actor: &Actor, old_id: Uuid, input: NodeInput) -> AppResult<Node> {
    validate_input(&input)?;
    let (old, license) = owned_node(actor, old_id).await?;
    if old.status != ACTIVE {
        return Err(ConflictReason::NotActive.into());
    }
    usable_or_conflict(&license, actor.now)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    lock_license(&*uow, license.id).await?;
    let old = retire(&*uow, old, actor.now).await?;
    let metadata = json!({ "licenseId": license.id, "newFingerprint": input.fingerprint });
    uow.record(node_change("node.replaced", &old, &license, metadata))
        .await?;
    let node = activate_locked(&mut uow, &license, input).await?;
    uow.commit().await?;
    Ok((node, license.developer_id))
}
