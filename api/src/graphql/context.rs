//! The one way a resolver reaches its actor and its loaders.

use super::loader::LoaderError;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Result};
use uuid::Uuid;

pub trait ContextExt {
    /// The request's actor, attached at the edge (HTTP request or WebSocket operation).
    fn actor(&self) -> AppResult<&Actor>;
    /// The loader for one relation edge, registered with the schema.
    fn loader<T: Send + Sync + 'static>(&self) -> AppResult<&DataLoader<T>>;
}

impl ContextExt for Context<'_> {
    fn actor(&self) -> AppResult<&Actor> {
        self.data::<Actor>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("no actor attached to the request")))
    }

    fn loader<T: Send + Sync + 'static>(&self) -> AppResult<&DataLoader<T>> {
        self.data::<DataLoader<T>>().map_err(|_| {
            AppError::internal(anyhow::anyhow!(
                "no loader {} in the schema",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// The objects a one-to-many edge holds for `key`, through that edge's loader.
pub async fn related<L, M, N>(ctx: &Context<'_>, key: Uuid, node: impl Fn(M) -> N) -> Result<Vec<N>>
where
    L: Loader<Uuid, Value = Vec<M>, Error = LoaderError>,
    M: Send + Sync + Clone + 'static,
{
    let found = ctx.loader::<L>()?.load_one(key).await?;
    Ok(found.unwrap_or_default().into_iter().map(node).collect())
}
