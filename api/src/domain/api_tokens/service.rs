//! API tokens: a token acts as its owner (a developer or an admin), limited to its scopes, so it
//! never reaches more than its owner may. Shown once, stored as a digest; revoked or expired,
//! it is refused on the next request on every gateway (each request looks it up).

use crate::auth::opaque_token::API;
use crate::auth::scopes::Scopes;
use crate::auth::token_use::{UseColumns, note_use};
use crate::auth::{Actor, Caller, Role, TokenGrant};
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::state::AppState;
use crate::total_count::{self, Count};
use chrono::{DateTime, FixedOffset, Utc};
use entity::{api_tokens, prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

const MAX_NAME_CHARS: usize = 100;
/// Tokens a caller may hold unrevoked at once: enough for every integration, not a flood.
const MAX_LIVE_TOKENS: u64 = 100;

/// What a token is made with.
pub struct NewApiToken {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as created: `plaintext` is answered once and exists nowhere else.
pub struct CreatedApiToken {
    pub plaintext: String,
    pub token: api_tokens::Model,
}

/// Makes a token for the caller. Developers and admins, signed in as themselves (a token does
/// not make tokens); scopes over the platform's operation are an admin's only.
#[tracing::instrument(skip_all)]
pub async fn create(actor: &Actor, new: NewApiToken) -> AppResult<CreatedApiToken> {
    let owner = require_person(actor)?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::validation(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if new.scopes.len() > 64 {
        return Err(AppError::validation("scopes", "at most 64 scopes"));
    }
    let scopes = Scopes::parse(&new.scopes)?;
    if !actor.is_admin()
        && let Some(scope) = scopes.members().find(|s| s.admin_only())
    {
        return Err(AppError::validation(
            "scopes",
            format!("`{}` is for admins' tokens", scope.as_str()),
        ));
    }
    if let Some(expires_at) = new.expires_at
        && expires_at <= actor.now
    {
        return Err(AppError::validation("expiresAt", "must be in the future"));
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let live = live_of(owner).count(&*uow).await?;
    if live >= MAX_LIVE_TOKENS {
        return Err(AppError::QuotaExceeded {
            metric: "live_api_tokens".to_owned(),
            limit: MAX_LIVE_TOKENS as i64,
            current: live as i64,
            index: None,
        });
    }
    let made = API.generate(&actor.app.config.auth.license_key_secret);
    let token = api_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_id: Set(owner),
        name: Set(name),
        prefix: Set(made.prefix),
        token_hash: Set(made.digest),
        scopes: Set(scopes.to_stored()),
        created_at: Set(actor.now.into()),
        expires_at: Set(new.expires_at.map(|t| t.fixed_offset())),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&*uow)
    .await?;
    uow.record(change("api_token.created", &token)).await?;
    uow.commit().await?;
    Ok(CreatedApiToken {
        plaintext: made.plaintext,
        token,
    })
}

/// Revokes a token at once, on every gateway: its next request is refused, and sockets opened
/// with it close. Its owner or an admin.
#[tracing::instrument(skip_all, fields(%token_id))]
pub async fn revoke(actor: &Actor, token_id: Uuid) -> AppResult<api_tokens::Model> {
    require_person(actor)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let found = ApiTokens::find_by_id(token_id)
        .one(&*uow)
        .await?
        .filter(|token| actor.manages(token.owner_id))
        .ok_or(AppError::NotFound("API token"))?;
    let revoked = ApiTokens::update_many()
        .col_expr(
            api_tokens::Column::RevokedAt,
            Expr::value(actor.now.fixed_offset()),
        )
        .filter(api_tokens::Column::Id.eq(found.id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(&*uow)
        .await?;
    if revoked.rows_affected == 0 {
        return Err(ConflictReason::AlreadyRevoked.into());
    }
    let token = api_tokens::Model {
        revoked_at: Some(actor.now.fixed_offset()),
        ..found
    };
    uow.record(change("api_token.revoked", &token)).await?;
    uow.commit().await?;
    actor.app.liveness.forget(&actor.app.bus, &[token_id]).await;
    Ok(token)
}

fn change(kind: &str, token: &api_tokens::Model) -> Change {
    Change::new(kind, "api_token", token.id)
        .owner(token.owner_id)
        .metadata(json!({
            "name": token.name,
            "prefix": token.prefix,
            "scopes": token.scopes,
        }))
}

/// One page of tokens, revoked ones included, newest first: the caller's own, or for an admin
/// those of `owner` (all when none is named).
pub async fn page(
    actor: &Actor,
    owner: Option<Uuid>,
    page: &PageArgs,
) -> AppResult<Page<api_tokens::Model>> {
    let mut query = listed(actor, owner)?.order_by_desc(api_tokens::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(api_tokens::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor, owner: Option<Uuid>) -> AppResult<Count> {
    total_count::count(&actor.app, listed(actor, owner)?).await
}

fn listed(actor: &Actor, owner: Option<Uuid>) -> AppResult<Select<ApiTokens>> {
    let me = require_person(actor)?;
    let query = ApiTokens::find();
    Ok(match (actor.is_admin(), owner) {
        (true, None) => query,
        (true, Some(owner)) => query.filter(api_tokens::Column::OwnerId.eq(owner)),
        (false, Some(owner)) if owner != me => return Err(AppError::Forbidden("admins only")),
        (false, _) => query.filter(api_tokens::Column::OwnerId.eq(me)),
    })
}

fn live_of(owner: Uuid) -> Select<ApiTokens> {
    ApiTokens::find()
        .filter(api_tokens::Column::OwnerId.eq(owner))
        .filter(api_tokens::Column::RevokedAt.is_null())
}

/// A developer or an admin acting as itself: tokens are a person's to make and to end.
fn require_person(actor: &Actor) -> AppResult<Uuid> {
    if actor.token.is_some() {
        return Err(AppError::Forbidden(
            "API tokens are managed by people, not by tokens",
        ));
    }
    match actor.require_user()? {
        (id, Role::Developer | Role::Admin) => Ok(id),
        (_, Role::Member) => Err(AppError::Forbidden(
            "API tokens are for developers and admins",
        )),
    }
}

/// The caller a presented token stands for (its owner, as it is now), the grant it carries, and
/// when it expires.
/// Unknown, revoked, expired, and tokens whose owner may no longer hold one are refused alike,
/// so a probe learns nothing about which it hit.
pub async fn authenticate(
    app: &AppState,
    presented: &str,
    now: DateTime<Utc>,
) -> AppResult<(Caller, TokenGrant, Option<DateTime<Utc>>)> {
    const REFUSED: AppError = AppError::Unauthenticated("unknown, expired or revoked API token");
    let digest = API.digest(&app.config.auth.license_key_secret, presented);
    type Found = (
        Uuid,
        Uuid,
        String,
        Option<DateTime<FixedOffset>>,
        Option<DateTime<FixedOffset>>,
        String,
    );
    let found: Option<Found> = ApiTokens::find()
        .select_only()
        .columns([
            api_tokens::Column::Id,
            api_tokens::Column::OwnerId,
            api_tokens::Column::Scopes,
            api_tokens::Column::ExpiresAt,
            api_tokens::Column::LastUsedAt,
        ])
        .column(users::Column::Role)
        .inner_join(Users)
        .filter(api_tokens::Column::TokenHash.eq(digest))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .into_tuple()
        .one(&app.db)
        .await?;
    let (id, owner, scopes, expires_at, last_used_at, role) = found.ok_or(REFUSED)?;
    if expires_at.is_some_and(|at| at <= now) {
        return Err(REFUSED);
    }
    let role = Role::from_stored(&role)?;
    if role == Role::Member {
        return Err(REFUSED);
    }
    let columns = UseColumns::<ApiTokens> {
        id: api_tokens::Column::Id,
        last_used_at: api_tokens::Column::LastUsedAt,
    };
    note_use(&app.db, columns, id, last_used_at, now).await;
    let grant = TokenGrant {
        id,
        scopes: Scopes::from_stored(&scopes)?,
    };
    let expires_at = expires_at.map(|at| at.with_timezone(&Utc));
    Ok((Caller::User { id: owner, role }, grant, expires_at))
}
