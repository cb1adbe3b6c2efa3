use super::service::{self as tokens, NewApiToken};
use crate::auth::Audience;
use crate::auth::scopes::Scopes;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::api_tokens;
use uuid::Uuid;

/// A partner's credential, sent as `Authorization: Bearer pk_live_...` (or in `connection_init`
/// over WebSocket). It acts as its owner, limited to its scopes. The token itself is shown
/// once, when it is made; only a digest is kept.
pub struct ApiToken(api_tokens::Model);

impl Guarded for ApiToken {
    type Row = api_tokens::Model;

    fn audience(row: &api_tokens::Model) -> Audience {
        Audience::OwnedBy(Some(row.owner_id))
    }

    fn wrap(row: api_tokens::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl ApiToken {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The account the token acts as.
    async fn owner_id(&self) -> Uuid {
        self.0.owner_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The token's first characters, to tell tokens apart; not enough to use one.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// What the token may reach, such as `licenses:read` (see the scopes table).
    async fn scopes(&self) -> Result<Vec<&'static str>> {
        Ok(Scopes::from_stored(&self.0.scopes)?.names().collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    /// Roughly when the token was last presented (to the minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(|t| t.with_timezone(&Utc))
    }
    /// When the token stops working by itself; null: when revoked.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(|t| t.with_timezone(&Utc))
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(|t| t.with_timezone(&Utc))
    }
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    /// What the token is for, 1 to 100 characters.
    name: String,
    /// Scope names such as `licenses:read`, `seats:write` (see the scopes table); a write scope
    /// grants the read of its domain.
    scopes: Vec<String>,
    /// When the token stops working by itself; none: when revoked.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct CreatedApiToken {
    /// The token itself: shown this once and never again.
    token: String,
    api_token: ApiToken,
}

#[derive(Default)]
pub struct ApiTokensQuery;

#[Object]
impl ApiTokensQuery {
    /// API tokens, revoked ones included, newest first: the caller's own; an admin sees every
    /// account's, or those of `ownerId`.
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        owner_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<ApiToken>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = tokens::page(actor, owner_id, &page).await?;
        let count = tokens::count(actor, owner_id);
        connection::<ApiToken>(ctx, rows, |_, token| id_cursor(token.id), count).await
    }
}

#[derive(Default)]
pub struct ApiTokensMutation;

#[Object]
impl ApiTokensMutation {
    /// Makes an API token acting as the caller, limited to `scopes`; the answer carries the
    /// token once. Developers and admins, signed in as themselves.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> Result<CreatedApiToken> {
        let actor = ctx.actor()?;
        let new = NewApiToken {
            name: input.name,
            scopes: input.scopes,
            expires_at: input.expires_at,
        };
        let created = tokens::create(actor, new).await?;
        Ok(CreatedApiToken {
            token: created.plaintext,
            api_token: shown_or_not_found(actor, created.token, "API token")?,
        })
    }

    /// Revokes an API token: refused UNAUTHENTICATED from its next request, on every gateway,
    /// and sockets opened with it close. Its owner or an admin.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: Uuid) -> Result<ApiToken> {
        let actor = ctx.actor()?;
        let revoked = tokens::revoke(actor, id).await?;
        Ok(shown_or_not_found(actor, revoked, "API token")?)
    }
}
