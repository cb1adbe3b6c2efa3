//! Instance tokens: made and revoked by the instance's developer or an admin, presented by the
//! instance itself to write its logs.

use super::access::visible_instance;
use super::placement::record_event;
use super::token_format;
use crate::auth::{Caller, RequestMeta};
use crate::domain::audit::service::{self as audit, AuditEntry};
use crate::error::{AppError, AppResult};
use crate::events::{DomainEvent, UnitOfWork};
use crate::state::AppState;
use chrono::{DateTime, Duration, Utc};
use entity::{instance_tokens, instances, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde_json::json;
use uuid::Uuid;

/// `last_used_at` is a hint for spotting stale tokens, not a request log: refreshing it at most
/// this often keeps a busy instance from turning every read into a write.
const USE_RESOLUTION: Duration = Duration::minutes(1);

/// A token as created: `plaintext` is answered once and exists nowhere else.
pub struct CreatedToken {
    pub plaintext: String,
    pub token: instance_tokens::Model,
}

fn token_event(
    kind: &str,
    instance: &instances::Model,
    token: &instance_tokens::Model,
    now: DateTime<Utc>,
) -> DomainEvent {
    DomainEvent {
        kind: kind.to_owned(),
        entity_id: instance.id,
        developer_id: Some(instance.developer_id),
        data: json!({ "tokenId": token.id, "prefix": token.prefix, "name": token.name }),
        occurred_at: now,
    }
}

/// The instance event, audit event and bus event of a token change, in the change's transaction.
async fn record_token_change(
    uow: &mut UnitOfWork,
    caller: &Caller,
    meta: &RequestMeta,
    verb: &str,
    instance: &instances::Model,
    token: &instance_tokens::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let kind = format!("instance.token_{verb}");
    record_event(
        &**uow,
        instance.id,
        &kind,
        Some(&instance.status),
        &instance.status,
        Some(format!("token {} ({}) {verb}", token.prefix, token.name)),
        now,
    )
    .await?;
    audit::record(
        &**uow,
        caller,
        meta,
        now,
        AuditEntry {
            event_type: &kind,
            entity_type: "instance_token",
            entity_id: token.id,
            owner_id: Some(instance.developer_id),
            metadata: json!({ "instanceId": instance.id, "name": token.name, "prefix": token.prefix }),
        },
    )
    .await?;
    uow.publish(token_event(&kind, instance, token, now));
    Ok(())
}

/// Makes a token for an instance. Its developer or an admin.
#[tracing::instrument(skip_all, fields(%instance_id))]
pub async fn create_token(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    instance_id: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> AppResult<CreatedToken> {
    caller.require_user()?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let instance = visible_instance(&*uow, caller, instance_id).await?;
    if instance.status == "deleted" {
        return Err(AppError::Conflict {
            reason: "INSTANCE_DELETED",
            message: "a deleted instance cannot get new tokens".into(),
        });
    }
    let new = token_format::generate(&app.config.auth.license_key_secret);
    let token = instance_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        instance_id: Set(instance.id),
        token_hash: Set(new.digest),
        prefix: Set(new.prefix),
        name: Set(name),
        created_at: Set(now.into()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&*uow)
    .await?;
    record_token_change(&mut uow, caller, meta, "created", &instance, &token, now).await?;
    uow.commit().await?;
    Ok(CreatedToken {
        plaintext: new.plaintext,
        token,
    })
}

/// Revokes a token at once: its next request is refused. Its instance's developer or an admin.
#[tracing::instrument(skip_all, fields(%token_id))]
pub async fn revoke_token(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    token_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<instance_tokens::Model> {
    caller.require_user()?;
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = InstanceTokens::find_by_id(token_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance token"))?;
    let instance = visible_instance(&*uow, caller, before.instance_id)
        .await
        .map_err(|err| match err {
            AppError::NotFound(_) => AppError::NotFound("instance token"),
            other => other,
        })?;
    let revoked = InstanceTokens::update_many()
        .col_expr(
            instance_tokens::Column::RevokedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(instance_tokens::Column::Id.eq(token_id))
        .filter(instance_tokens::Column::RevokedAt.is_null())
        .exec(&*uow)
        .await?;
    if revoked.rows_affected == 0 {
        return Err(AppError::Conflict {
            reason: "ALREADY_REVOKED",
            message: "this token is already revoked".into(),
        });
    }
    let token = InstanceTokens::find_by_id(token_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance token"))?;
    record_token_change(&mut uow, caller, meta, "revoked", &instance, &token, now).await?;
    uow.commit().await?;
    Ok(token)
}

/// An instance's tokens, revoked ones included, newest first. Its developer or an admin.
pub async fn list_tokens(
    app: &AppState,
    caller: &Caller,
    instance_id: Uuid,
) -> AppResult<Vec<instance_tokens::Model>> {
    caller.require_user()?;
    let instance = visible_instance(&app.db, caller, instance_id).await?;
    Ok(InstanceTokens::find()
        .filter(instance_tokens::Column::InstanceId.eq(instance.id))
        .order_by_desc(instance_tokens::Column::Id)
        .all(&app.db)
        .await?)
}

/// The caller a presented token stands for. Unknown, revoked, and tokens of deleted instances
/// are refused alike, so a probe learns nothing about which it hit.
pub async fn authenticate(
    app: &AppState,
    presented: &str,
    now: DateTime<Utc>,
) -> AppResult<Caller> {
    const REFUSED: AppError = AppError::Unauthenticated("unknown or revoked instance token");
    let digest = token_format::digest(&app.config.auth.license_key_secret, presented);
    let token = InstanceTokens::find()
        .inner_join(Instances)
        .filter(instance_tokens::Column::TokenHash.eq(digest))
        .filter(instance_tokens::Column::RevokedAt.is_null())
        .filter(instances::Column::Status.ne("deleted"))
        .limit(1)
        .one(&app.db)
        .await?
        .ok_or(REFUSED)?;
    let stale = token
        .last_used_at
        .is_none_or(|used| now.signed_duration_since(used) >= USE_RESOLUTION);
    if stale {
        note_use(app, token.id, now).await;
    }
    Ok(Caller::InstanceToken {
        instance_id: token.instance_id,
    })
}

/// Best effort: a failed bookkeeping write must not refuse a valid token.
async fn note_use(app: &AppState, token_id: Uuid, now: DateTime<Utc>) {
    let cutoff = (now - USE_RESOLUTION).fixed_offset();
    let noted = InstanceTokens::update_many()
        .col_expr(
            instance_tokens::Column::LastUsedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(instance_tokens::Column::Id.eq(token_id))
        // Concurrent requests of one instance settle here; only one of them writes.
        .filter(
            Condition::any()
                .add(instance_tokens::Column::LastUsedAt.is_null())
                .add(instance_tokens::Column::LastUsedAt.lt(cutoff)),
        )
        .exec(&app.db)
        .await;
    if let Err(err) = noted {
        tracing::warn!(error = ?err, %token_id, "could not record instance token use");
    }
}
