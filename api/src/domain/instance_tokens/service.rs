//! Instance tokens: made and revoked by the instance's developer or an admin, presented by the
//! instance itself to write its logs.

use crate::auth::opaque_token::INSTANCE;
use crate::auth::token_use::{UseColumns, note_use};
use crate::auth::{Actor, Caller};
use crate::domain::instances::access::visible_instance;
use crate::domain::instances::changes::{HistoryLine, write_history};
use crate::domain::instances::model::InstanceStatus;
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, Event, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::state::AppState;
use crate::total_count::{self, Count};
use chrono::{DateTime, Utc};
use entity::{instance_tokens, instances, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

/// A token, with the developer whose instance it opens (who may see it follows from that).
pub type Token = (instance_tokens::Model, Uuid);

/// A token as created: `plaintext` is answered once and exists nowhere else.
pub struct CreatedToken {
    pub plaintext: String,
    pub token: Token,
}

/// The instance history line, audit entry and event of a token change.
async fn record_token_change(
    uow: &mut UnitOfWork<'_>,
    verb: &str,
    instance: &instances::Model,
    token: &instance_tokens::Model,
) -> AppResult<()> {
    let kind = format!("instance.token_{verb}");
    let line = HistoryLine {
        kind: &kind,
        from: Some(&instance.status),
        to: &instance.status,
        message: Some(format!("token {} ({}) {verb}", token.prefix, token.name)),
    };
    write_history(&**uow, instance.id, line, uow.actor().now).await?;
    let metadata = json!({ "instanceId": instance.id, "name": token.name, "prefix": token.prefix });
    let event = Event {
        kind: kind.clone(),
        entity_id: instance.id,
        developer_id: Some(instance.developer_id),
        data: json!({ "tokenId": token.id, "prefix": token.prefix, "name": token.name }),
    };
    uow.record(
        Change::new(kind, "instance_token", token.id)
            .owner(instance.developer_id)
            .metadata(metadata)
            .publish(event),
    )
    .await
}

/// Makes a token for an instance. Its developer or an admin.
#[tracing::instrument(skip_all, fields(%instance_id))]
pub async fn create_token(actor: &Actor, instance_id: Uuid, name: &str) -> AppResult<CreatedToken> {
    actor.require_user()?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let instance = visible_instance(&*uow, actor, instance_id).await?;
    if InstanceStatus::from_stored(&instance.status)? == InstanceStatus::Deleted {
        return Err(AppError::conflict(
            ConflictReason::InstanceDeleted,
            "a deleted instance cannot get new tokens",
        ));
    }
    let new = INSTANCE.generate(&actor.app.config.auth.license_key_secret);
    let token = instance_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        instance_id: Set(instance.id),
        token_hash: Set(new.digest),
        prefix: Set(new.prefix),
        name: Set(name),
        created_at: Set(actor.now.into()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&*uow)
    .await?;
    record_token_change(&mut uow, "created", &instance, &token).await?;
    uow.commit().await?;
    Ok(CreatedToken {
        plaintext: new.plaintext,
        token: (token, instance.developer_id),
    })
}

/// Revokes a token at once: its next request is refused. Its instance's developer or an admin.
#[tracing::instrument(skip_all, fields(%token_id))]
pub async fn revoke_token(actor: &Actor, token_id: Uuid) -> AppResult<Token> {
    actor.require_user()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = InstanceTokens::find_by_id(token_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance token"))?;
    let instance = visible_instance(&*uow, actor, before.instance_id)
        .await
        .map_err(|err| match err {
            AppError::NotFound(_) => AppError::NotFound("instance token"),
            other => other,
        })?;
    let revoked = InstanceTokens::update_many()
        .col_expr(
            instance_tokens::Column::RevokedAt,
            Expr::value(actor.now.fixed_offset()),
        )
        .filter(instance_tokens::Column::Id.eq(token_id))
        .filter(instance_tokens::Column::RevokedAt.is_null())
        .exec(&*uow)
        .await?;
    if revoked.rows_affected == 0 {
        return Err(ConflictReason::AlreadyRevoked.into());
    }
    let token = InstanceTokens::find_by_id(token_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("instance token"))?;
    record_token_change(&mut uow, "revoked", &instance, &token).await?;
    uow.commit().await?;
    // Sockets opened with it close now, on every gateway.
    actor.app.liveness.forget(&actor.app.bus, &[token_id]).await;
    Ok((token, instance.developer_id))
}

/// One page of an instance's tokens, revoked ones included, newest first. Its developer or an
/// admin.
pub async fn page_tokens(
    actor: &Actor,
    instance_id: Uuid,
    page: &PageArgs,
) -> AppResult<Page<Token>> {
    actor.require_user()?;
    let db = &actor.app.db;
    let instance = visible_instance(db, actor, instance_id).await?;
    let mut query = of_instance(instance.id).order_by_desc(instance_tokens::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(instance_tokens::Column::Id.lt(after));
    }
    let found = paging::fetch(db, query, page).await?;
    Ok(found.map(|token| (token, instance.developer_id)))
}

pub async fn count_tokens(actor: &Actor, instance_id: Uuid) -> AppResult<Count> {
    actor.require_user()?;
    let instance = visible_instance(&actor.app.db, actor, instance_id).await?;
    total_count::count(&actor.app, of_instance(instance.id)).await
}

fn of_instance(instance_id: Uuid) -> Select<InstanceTokens> {
    InstanceTokens::find().filter(instance_tokens::Column::InstanceId.eq(instance_id))
}

/// The caller a presented token stands for, and the token's id. Unknown, revoked, and tokens of
/// deleted instances are refused alike, so a probe learns nothing about which it hit.
pub async fn authenticate(
    app: &AppState,
    presented: &str,
    now: DateTime<Utc>,
) -> AppResult<(Caller, Uuid)> {
    const REFUSED: AppError = AppError::Unauthenticated("unknown or revoked instance token");
    let digest = INSTANCE.digest(&app.config.auth.license_key_secret, presented);
    let token = InstanceTokens::find()
        .inner_join(Instances)
        .filter(instance_tokens::Column::TokenHash.eq(digest))
        .filter(instance_tokens::Column::RevokedAt.is_null())
        .filter(instances::Column::Status.ne(InstanceStatus::Deleted.as_str()))
        .limit(1)
        .one(&app.db)
        .await?
        .ok_or(REFUSED)?;
    let columns = UseColumns::<InstanceTokens> {
        id: instance_tokens::Column::Id,
        last_used_at: instance_tokens::Column::LastUsedAt,
    };
    note_use(&app.db, columns, token.id, token.last_used_at, now).await;
    let caller = Caller::InstanceToken {
        instance_id: token.instance_id,
    };
    Ok((caller, token.id))
}
