//! The one way a resolver reaches its actor and its loaders.

use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use async_graphql::Context;
use async_graphql::dataloader::DataLoader;

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
