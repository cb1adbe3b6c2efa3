use super::service::{self as tokens, Token};
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::instance_tokens;
use uuid::Uuid;

/// A credential an instance presents, as `Authorization: Bearer inst_...`, to write and read
/// its own logs. The token itself is shown once, when it is created; only a digest is kept.
pub struct InstanceToken(instance_tokens::Model);

impl Guarded for InstanceToken {
    type Row = Token;

    fn audience((token, developer): &Token) -> Audience {
        Audience::Instance {
            id: token.instance_id,
            developer: *developer,
        }
    }

    fn wrap((token, _): Token, _: Seen) -> Self {
        Self(token)
    }
}

#[Object]
impl InstanceToken {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn instance_id(&self) -> Uuid {
        self.0.instance_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The token's first characters, to tell tokens apart; not enough to use one.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    /// Roughly when the token was last presented (to the minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(|t| t.with_timezone(&Utc))
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(|t| t.with_timezone(&Utc))
    }
}

#[derive(SimpleObject)]
pub struct CreatedInstanceToken {
    /// The token itself: shown this once and never again. Store it with the instance.
    token: String,
    instance_token: InstanceToken,
}

#[derive(Default)]
pub struct InstanceTokensQuery;

#[Object]
impl InstanceTokensQuery {
    /// An instance's tokens, revoked ones included, newest first. Its developer or an admin.
    async fn instance_tokens(
        &self,
        ctx: &Context<'_>,
        instance_id: Uuid,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<InstanceToken>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = tokens::page_tokens(actor, instance_id, &page).await?;
        let count = tokens::count_tokens(actor, instance_id);
        connection::<InstanceToken>(ctx, rows, |_, (token, _)| id_cursor(token.id), count).await
    }
}

#[derive(Default)]
pub struct InstanceTokensMutation;

#[Object]
impl InstanceTokensMutation {
    /// Makes a token the instance uses to append its logs; the answer carries the token once.
    /// The instance's developer or an admin.
    async fn create_instance_token(
        &self,
        ctx: &Context<'_>,
        instance_id: Uuid,
        name: String,
    ) -> Result<CreatedInstanceToken> {
        let actor = ctx.actor()?;
        let created = tokens::create_token(actor, instance_id, &name).await?;
        Ok(CreatedInstanceToken {
            token: created.plaintext,
            instance_token: shown_or_not_found(actor, created.token, "instance token")?,
        })
    }

    /// Revokes a token; requests bearing it are refused UNAUTHENTICATED from then on.
    /// The instance's developer or an admin.
    async fn revoke_instance_token(&self, ctx: &Context<'_>, id: Uuid) -> Result<InstanceToken> {
        let actor = ctx.actor()?;
        let revoked = tokens::revoke_token(actor, id).await?;
        Ok(shown_or_not_found(actor, revoked, "instance token")?)
    }
}
