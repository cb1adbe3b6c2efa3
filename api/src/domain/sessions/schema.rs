use super::service;
use crate::domain::accounts::schema::AuthPayload;
use crate::graphql::context::ContextExt;
use async_graphql::{Context, Object, Result};

#[derive(Default)]
pub struct SessionsMutation;

#[Object]
impl SessionsMutation {
    /// Trades a refresh token for a new access token and refresh token. Each refresh token
    /// works once: presenting one again ends its whole session (someone holds a copy).
    async fn refresh_token(&self, ctx: &Context<'_>, token: String) -> Result<AuthPayload> {
        let refreshed = service::refresh(ctx.actor()?, &token).await?;
        AuthPayload::signed_in(&refreshed.actor, refreshed.user, refreshed.opened)
    }

    /// Ends the session this access token belongs to, on every gateway, at once.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(service::logout(ctx.actor()?).await?)
    }

    /// Ends every session of the signed-in account; answers how many ended.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(service::logout_everywhere(ctx.actor()?).await?)
    }
}
