//! Setting and removing per-developer overrides, and asking whether a feature is on.

use super::catalogue;
use super::resolve::{EntitlementSource, Entitlements, resolve_one};
use crate::auth::{Actor, Caller, Role};
use crate::error::{AppError, AppResult};
use crate::events::{Change, Event, UnitOfWork};
use chrono::{DateTime, Utc};
use entity::{entitlement_overrides, instances, licenses, prelude::*, users};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, ModelTrait, QueryFilter, Set};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

pub struct OverrideChange {
    pub developer_id: Uuid,
    pub key: String,
    pub value: Value,
    pub expires_at: Option<DateTime<Utc>>,
}

async fn developer(actor: &Actor, id: Uuid) -> AppResult<users::Model> {
    Users::find_by_id(id)
        .filter(users::Column::Role.eq(Role::Developer.as_str()))
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("developer"))
}

/// An override change, audited on the developer and published so every gateway drops its
/// cached entitlements.
fn override_change(
    kind: &str,
    developer_id: Uuid,
    key: &str,
    metadata: serde_json::Value,
) -> Change {
    Change::new(kind, "developer", developer_id)
        .owner(developer_id)
        .metadata(metadata)
        .publish(Event {
            kind: kind.to_owned(),
            entity_id: developer_id,
            developer_id: Some(developer_id),
            data: json!({ "key": key }),
        })
}

/// Sets (or replaces) one override; admins only.
pub async fn set_override(actor: &Actor, change: OverrideChange) -> AppResult<Entitlements> {
    let now = actor.now;
    actor.require_admin()?;
    catalogue::check_value(&change.key, &change.value)
        .map_err(|reason| AppError::validation("value", reason))?;
    if change.expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::validation("expiresAt", "must be in the future"));
    }
    developer(actor, change.developer_id).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = EntitlementOverrides::find_by_id((change.developer_id, change.key.clone()))
        .one(&*uow)
        .await?;
    let row = entitlement_overrides::ActiveModel {
        developer_id: Set(change.developer_id),
        key: Set(change.key.clone()),
        value: Set(change.value.clone()),
        expires_at: Set(change.expires_at.map(Into::into)),
        set_by: Set(actor.caller.audit_actor().1),
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
    let metadata = json!({
        "key": change.key,
        "from": before.map(|b| b.value),
        "to": change.value,
        "expiresAt": change.expires_at,
    });
    uow.record(override_change(
        "entitlement.override_set",
        change.developer_id,
        &change.key,
        metadata,
    ))
    .await?;
    let merged = resolve_one(&*uow, change.developer_id, now).await?;
    uow.commit().await?;
    Ok(merged)
}

/// Removes one override, so the plan's value applies again; admins only.
pub async fn remove_override(
    actor: &Actor,
    developer_id: Uuid,
    key: String,
) -> AppResult<Entitlements> {
    actor.require_admin()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let existing = EntitlementOverrides::find_by_id((developer_id, key.clone()))
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("entitlement override"))?;
    let value = existing.value.clone();
    existing.delete(&*uow).await?;
    let metadata = json!({ "key": key, "from": value });
    uow.record(override_change(
        "entitlement.override_removed",
        developer_id,
        &key,
        metadata,
    ))
    .await?;
    let merged = resolve_one(&*uow, developer_id, actor.now).await?;
    uow.commit().await?;
    Ok(merged)
}

/// The developer whose entitlements a caller acts under: its own for a developer, the
/// license's or instance's owner for a runtime credential, any for an admin who names one.
pub async fn subject(actor: &Actor, requested: Option<Uuid>) -> AppResult<Uuid> {
    let db = &actor.app.db;
    let own = match &actor.caller {
        Caller::Anonymous => return Err(AppError::Unauthenticated("sign in first")),
        Caller::User { id, .. } => *id,
        Caller::LicenseKey { license_id } => Licenses::find_by_id(*license_id)
            .one(db)
            .await?
            .map(|l: licenses::Model| l.developer_id)
            .ok_or(AppError::NotFound("license"))?,
        Caller::InstanceToken { instance_id } => Instances::find_by_id(*instance_id)
            .one(db)
            .await?
            .map(|i: instances::Model| i.developer_id)
            .ok_or(AppError::NotFound("instance"))?,
    };
    match requested {
        None => Ok(own),
        Some(id) if id == own || actor.is_admin() => Ok(id),
        Some(_) => Err(AppError::NotFound("developer")),
    }
}

pub struct FeatureAccess {
    pub feature: String,
    pub enabled: bool,
    pub source: EntitlementSource,
}

pub async fn check_feature(
    actor: &Actor,
    feature: &str,
    developer_id: Option<Uuid>,
) -> AppResult<FeatureAccess> {
    let app = &actor.app;
    let subject = subject(actor, developer_id).await?;
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
    let entitlements: Arc<Entitlements> = app.entitlements.get(&app.db, subject, actor.now).await?;
    Ok(FeatureAccess {
        feature: feature.to_owned(),
        enabled: entitlements.flag(&key),
        source: entitlements.source(&key),
    })
}
