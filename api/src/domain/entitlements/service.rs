//! Setting and removing per-developer overrides, and asking whether a feature is on.

use super::catalogue;
use super::resolve::{EntitlementSource, Entitlements, resolve_one};
use crate::auth::{Caller, RequestMeta};
use crate::domain::audit::service::{AuditEntry, record};
use crate::error::{AppError, AppResult};
use crate::events::{DomainEvent, UnitOfWork};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{entitlement_overrides, instances, licenses, prelude::*, users};
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, ModelTrait, Set};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

pub struct OverrideChange {
    pub developer_id: Uuid,
    pub key: String,
    pub value: Value,
    pub expires_at: Option<DateTime<Utc>>,
}

async fn developer(app: &AppState, id: Uuid) -> AppResult<users::Model> {
    Users::find_by_id(id)
        .one(&app.db)
        .await?
        .filter(|u| u.role == "developer")
        .ok_or(AppError::NotFound("developer"))
}

fn event(kind: &str, developer_id: Uuid, key: &str, now: DateTime<Utc>) -> DomainEvent {
    DomainEvent {
        kind: kind.to_owned(),
        entity_id: developer_id,
        developer_id: Some(developer_id),
        data: json!({ "key": key }),
        occurred_at: now,
    }
}

/// Sets (or replaces) one override; admins only.
pub async fn set_override(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    change: OverrideChange,
    now: DateTime<Utc>,
) -> AppResult<Entitlements> {
    caller.require_admin()?;
    catalogue::check_value(&change.key, &change.value)
        .map_err(|reason| AppError::validation("value", reason))?;
    if change.expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::validation("expiresAt", "must be in the future"));
    }
    developer(app, change.developer_id).await?;
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = EntitlementOverrides::find_by_id((change.developer_id, change.key.clone()))
        .one(&*uow)
        .await?;
    let row = entitlement_overrides::ActiveModel {
        developer_id: Set(change.developer_id),
        key: Set(change.key.clone()),
        value: Set(change.value.clone()),
        expires_at: Set(change.expires_at.map(Into::into)),
        set_by: Set(caller.actor().1),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    };
    EntitlementOverrides::insert(row)
        .on_conflict(
            OnConflict::columns([
                entitlement_overrides::Column::DeveloperId,
                entitlement_overrides::Column::Key,
            ])
            .update_columns([
                entitlement_overrides::Column::Value,
                entitlement_overrides::Column::ExpiresAt,
                entitlement_overrides::Column::SetBy,
                entitlement_overrides::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&*uow)
        .await?;
    record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: "entitlement.override_set",
            entity_type: "developer",
            entity_id: change.developer_id,
            owner_id: Some(change.developer_id),
            metadata: json!({
                "key": change.key,
                "from": before.map(|b| b.value),
                "to": change.value,
                "expiresAt": change.expires_at,
            }),
        },
    )
    .await?;
    uow.publish(event(
        "entitlement.override_set",
        change.developer_id,
        &change.key,
        now,
    ));
    let merged = resolve_one(&*uow, change.developer_id, now).await?;
    uow.commit().await?;
    Ok(merged)
}

/// Removes one override, so the plan's value applies again; admins only.
pub async fn remove_override(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    developer_id: Uuid,
    key: String,
    now: DateTime<Utc>,
) -> AppResult<Entitlements> {
    caller.require_admin()?;
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let existing = EntitlementOverrides::find_by_id((developer_id, key.clone()))
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("entitlement override"))?;
    let value = existing.value.clone();
    existing.delete(&*uow).await?;
    record(
        &*uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: "entitlement.override_removed",
            entity_type: "developer",
            entity_id: developer_id,
            owner_id: Some(developer_id),
            metadata: json!({ "key": key, "from": value }),
        },
    )
    .await?;
    uow.publish(event(
        "entitlement.override_removed",
        developer_id,
        &key,
        now,
    ));
    let merged = resolve_one(&*uow, developer_id, now).await?;
    uow.commit().await?;
    Ok(merged)
}

/// The developer whose entitlements a caller acts under: its own for a developer, the
/// license's or instance's owner for a runtime credential, any for an admin who names one.
pub async fn subject(app: &AppState, caller: &Caller, requested: Option<Uuid>) -> AppResult<Uuid> {
    let own = match caller {
        Caller::Anonymous => return Err(AppError::Unauthenticated("sign in first")),
        Caller::User { id, .. } => *id,
        Caller::LicenseKey { license_id } => Licenses::find_by_id(*license_id)
            .one(&app.db)
            .await?
            .map(|l: licenses::Model| l.developer_id)
            .ok_or(AppError::NotFound("license"))?,
        Caller::InstanceToken { instance_id } => Instances::find_by_id(*instance_id)
            .one(&app.db)
            .await?
            .map(|i: instances::Model| i.developer_id)
            .ok_or(AppError::NotFound("instance"))?,
    };
    match requested {
        None => Ok(own),
        Some(id) if id == own || caller.is_admin() => Ok(id),
        Some(_) => Err(AppError::NotFound("developer")),
    }
}

pub struct FeatureAccess {
    pub feature: String,
    pub enabled: bool,
    pub source: EntitlementSource,
}

pub async fn check_feature(
    app: &AppState,
    caller: &Caller,
    feature: &str,
    developer_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<FeatureAccess> {
    let subject = subject(app, caller, developer_id).await?;
    let key = if catalogue::ACCOUNT_FLAGS.contains(&feature)
        || feature.starts_with(catalogue::FEATURE_PREFIX)
    {
        feature.to_owned()
    } else {
        format!("{}{feature}", catalogue::FEATURE_PREFIX)
    };
    if catalogue::kind_of(&key) != Some(catalogue::EntitlementKind::Flag) {
        return Err(AppError::validation(
            "feature",
            "a feature name is lower-case letters, digits and underscores",
        ));
    }
    let entitlements: Arc<Entitlements> = app.entitlements.get(&app.db, subject, now).await?;
    Ok(FeatureAccess {
        feature: feature.to_owned(),
        enabled: entitlements.flag(&key),
        source: entitlements.source(&key),
    })
}
