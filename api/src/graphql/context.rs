//! The one way a resolver reaches its actor and its loaders.

use super::guard::{Guarded, shown_all, shown_in, visible_key};
use super::loader::LoaderError;
use super::siblings::Together;
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

/// The objects a one-to-many edge holds for `key` that the actor may see, through that edge's
/// loader, once for the objects made `together` with the one asking.
pub async fn related<L, T>(ctx: &Context<'_>, together: &Together, key: Uuid) -> Result<Vec<T>>
where
    L: Loader<Uuid, Value = Vec<T::Row>, Error = LoaderError>,
    T: Guarded,
    T::Row: Clone + Send + Sync + 'static,
{
    let actor = ctx.actor()?;
    let (rows, children) = together
        .load::<L, T::Row>(ctx, key, |row| visible_key::<T>(actor, row))
        .await?;
    Ok(shown_in(actor, &children, rows))
}

/// The same for an edge whose rows do not name their developer: each is shown as belonging to
/// `owner`, the developer of the object the edge leaves from.
pub async fn related_owned<L, T, R>(
    ctx: &Context<'_>,
    together: &Together,
    key: Uuid,
    owner: Uuid,
) -> Result<Vec<T>>
where
    L: Loader<Uuid, Value = Vec<R>, Error = LoaderError>,
    T: Guarded<Row = (R, Uuid)>,
    R: Clone + Send + Sync + 'static,
{
    let actor = ctx.actor()?;
    // Rows that do not name their developer have no relations loaded together.
    let (rows, _) = together.load::<L, R>(ctx, key, |_| None).await?;
    let owned = rows.into_iter().map(|row| (row, owner));
    Ok(shown_all(actor, owned))
}

/// The object a one-to-one edge leads to from `key`, if there is one and the actor may see it,
/// through the request's dataloader, which gathers the keys of every object asking.
pub async fn related_one<L, T>(ctx: &Context<'_>, key: Uuid) -> Result<Option<T>>
where
    L: Loader<Uuid, Error = LoaderError>,
    T: Guarded<Row = L::Value>,
{
    related_one_from::<L, T>(ctx, &Together::default(), key).await
}

/// The same from an object that knows how it was made (`together`): from an object made alone
/// it is loaded at once, in a statement of its own, without the dataloader's batching window
/// (about a millisecond, which a lookup need not wait).
pub async fn related_one_from<L, T>(
    ctx: &Context<'_>,
    together: &Together,
    key: Uuid,
) -> Result<Option<T>>
where
    L: Loader<Uuid, Error = LoaderError>,
    T: Guarded<Row = L::Value>,
{
    let loader = ctx.loader::<L>()?;
    let found = if together.is_alone() {
        loader.loader().load(&[key]).await?.remove(&key)
    } else {
        loader.load_one(key).await?
    };
    let actor = ctx.actor()?;
    // What it leads to is reached from another object, not made alone.
    Ok(shown_in(actor, &Together::default(), found).pop())
}
