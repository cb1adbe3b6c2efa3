//! Objects answered together (one page, one relation list) load each relation once for all of
//! them: the first to ask loads the edge for every one of them in one statement, and each takes
//! its own share of it (moved, not copied).
//!
//! The request's dataloaders batch by time instead: each object's key waits for the batch
//! window (about a millisecond, whatever the configured delay, once the timer rounds it) and
//! pays for its own bookkeeping. A list already knows every key it will ask for, so it needs
//! neither; objects made one at a time (a lookup, an event) still go through the dataloaders,
//! which gather them across the request. Sibling loads of one edge from concurrent requests
//! share statements in the edge's lanes (`edge_lanes.rs`).

use super::context::ContextExt;
use super::edge_lanes::EdgeLanes;
use super::loader::LoaderError;
use crate::error::AppError;
use async_graphql::Context;
use async_graphql::dataloader::Loader;
use sea_orm::DbErr;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// One edge loaded for a whole sibling set, once, shared by every sibling (a failure too, so a
/// failed load is not repeated for each of them). The rows it loaded for all of them are the
/// next sibling set: the licenses of twenty developers load their seats together.
type Loaded<R> = OnceCell<Result<Edge<R>, LoaderError>>;

struct Edge<R> {
    rows: Shares<Vec<R>>,
    children: Together,
}

/// What was loaded for a sibling set, by key, until the sibling with that key takes its share
/// (moved, not copied).
pub struct Shares<T>(Mutex<HashMap<Uuid, Option<T>>>);

impl<T> FromIterator<(Uuid, T)> for Shares<T> {
    fn from_iter<I: IntoIterator<Item = (Uuid, T)>>(shares: I) -> Self {
        Self(Mutex::new(
            shares
                .into_iter()
                .map(|(key, share)| (key, Some(share)))
                .collect(),
        ))
    }
}

impl<T> Shares<T> {
    /// `key`'s share: `None` when nothing was loaded for it, `Some(None)` when it was taken
    /// already (one object asking twice).
    pub fn take(&self, key: &Uuid) -> Option<Option<T>> {
        let mut shares = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        shares.get_mut(key).map(Option::take)
    }
}

/// What a sibling finds for its key.
enum Share<R> {
    Rows(Vec<R>),
    /// Taken already: the same edge asked twice for one object (the field selected under two
    /// names), which loads its rows again.
    Taken,
}

/// The keys of objects answered together and the edges loaded for them so far.
pub struct Siblings {
    keys: Vec<Uuid>,
    /// What was made for the set so far, each once: the edges loaded, and values others made
    /// (`Together::once`).
    made: Mutex<Vec<(Made, Arc<dyn Any + Send + Sync>)>>,
}

/// What a value made for a sibling set is: an edge's load, or another's value by its id.
#[derive(Clone, Copy, PartialEq)]
enum Made {
    Edge(TypeId),
    Other(usize),
}

impl Siblings {
    /// The cell holding what is made once as `what`; `None` when it holds another type.
    fn cell<V: Send + Sync + 'static>(&self, what: Made) -> Option<Arc<OnceCell<V>>> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        let cell = match made.iter().find(|(made, _)| *made == what) {
            Some((_, cell)) => cell.clone(),
            None => {
                let cell: Arc<dyn Any + Send + Sync> = Arc::new(OnceCell::<V>::new());
                made.push((what, cell.clone()));
                cell
            }
        };
        cell.downcast().ok()
    }

    fn slot<L, R>(&self) -> Result<Arc<Loaded<R>>, LoaderError>
    where
        L: Loader<Uuid, Value = Vec<R>, Error = LoaderError>,
        R: Send + Sync + 'static,
    {
        self.cell(Made::Edge(TypeId::of::<L>())).ok_or_else(|| {
            LoaderError::from(DbErr::Custom(format!(
                "sibling load of {} holds another type",
                std::any::type_name::<L>()
            )))
        })
    }

    async fn load<L, R>(
        &self,
        lanes: &EdgeLanes<L>,
        key: Uuid,
        child_key: impl Fn(&R) -> Option<Uuid>,
    ) -> Result<(Share<R>, Together), LoaderError>
    where
        L: Loader<Uuid, Value = Vec<R>, Error = LoaderError>,
        R: Send + Sync + 'static,
    {
        let slot = self.slot::<L, R>()?;
        let edge = slot
            .get_or_init(|| async {
                let rows = lanes.load(self.keys.clone()).await?;
                let keys: Vec<Uuid> = rows.values().flatten().filter_map(&child_key).collect();
                Ok(Edge {
                    rows: rows.into_iter().collect(),
                    children: Together::of(keys),
                })
            })
            .await;
        match edge {
            Ok(edge) => {
                let share = match edge.rows.take(&key) {
                    Some(rows) => rows.map_or(Share::Taken, Share::Rows),
                    None => Share::Rows(Vec::new()),
                };
                Ok((share, edge.children.clone()))
            }
            Err(err) => Err(err.clone()),
        }
    }
}

/// What an object knows of the objects answered with it: a shared sibling set, or nothing when
/// it was made on its own, and whether it was made alone (looked up by itself, not reached
/// from other objects: nothing else in the request is likely to load what it loads).
#[derive(Clone, Default)]
pub struct Together(Option<Arc<Siblings>>, Alone);

#[derive(Clone, Copy, Default)]
struct Alone(bool);

impl Together {
    /// The set of objects keyed by `keys`, made together (nothing to share when there are none).
    pub fn of(keys: Vec<Uuid>) -> Self {
        if keys.is_empty() {
            return Self::default();
        }
        let siblings = Siblings {
            keys,
            made: Mutex::new(Vec::new()),
        };
        Self(Some(Arc::new(siblings)), Alone(false))
    }

    /// An object made alone: a lookup, a mutation's answer, an event.
    pub fn alone() -> Self {
        Self(None, Alone(true))
    }

    /// The same for an object whose relations load as a set of one (`of`).
    pub fn alone_of(key: Option<Uuid>) -> Self {
        Self(Self::of(key.into_iter().collect()).0, Alone(true))
    }

    /// Whether the object was made alone (`alone`), so that what it loads is loaded at once
    /// rather than gathered with other objects' loads.
    pub fn is_alone(&self) -> bool {
        self.1.0
    }

    /// The keys of the objects made together, none for an object made on its own.
    pub fn keys(&self) -> Option<&[Uuid]> {
        self.0.as_ref().map(|siblings| siblings.keys.as_slice())
    }

    /// The value `make` makes, made once for the whole sibling set under `id` (a value only
    /// `make`'s caller knows, such as the address of the selection it answers); `None` for an
    /// object made on its own, or when `id` holds a value of another type.
    pub async fn once<V, F>(&self, id: usize, make: F) -> Option<Arc<V>>
    where
        V: Send + Sync + 'static,
        F: AsyncFnOnce() -> V,
    {
        let cell = self.0.as_ref()?.cell::<Arc<V>>(Made::Other(id))?;
        Some(
            cell.get_or_init(async || Arc::new(make().await))
                .await
                .clone(),
        )
    }

    /// Has `value` made for the whole sibling set under `id` already, as `once` would make it
    /// (a value made with the objects themselves); nothing for an object made on its own.
    pub fn made<V: Send + Sync + 'static>(&self, id: usize, value: Arc<V>) {
        if let Some(cell) = self
            .0
            .as_ref()
            .and_then(|s| s.cell::<Arc<V>>(Made::Other(id)))
        {
            // A value made already is the same value, made first.
            let _ = cell.set(value);
        }
    }

    /// The rows the one-to-many edge `L` holds for `key` (the key the object was made with), and
    /// the sibling set the objects for them form: from the load shared by this sibling set, at
    /// once for an object made alone, or through the request's dataloader for another object
    /// made on its own. `child_key` names each
    /// loaded row's own sibling key, if it has one and may be shown.
    pub async fn load<L, R>(
        &self,
        ctx: &Context<'_>,
        key: Uuid,
        child_key: impl Fn(&R) -> Option<Uuid>,
    ) -> async_graphql::Result<(Vec<R>, Together)>
    where
        L: Loader<Uuid, Value = Vec<R>, Error = LoaderError>,
        R: Clone + Send + Sync + 'static,
    {
        if let Some(siblings) = &self.0 {
            let lanes = ctx.data::<EdgeLanes<L>>().map_err(|_| {
                AppError::internal(anyhow::anyhow!(
                    "no lanes for {} in the schema",
                    std::any::type_name::<L>()
                ))
            })?;
            if let (Share::Rows(rows), children) = siblings.load(lanes, key, &child_key).await? {
                return Ok((rows, children));
            }
        }
        let loader = ctx.loader::<L>()?;
        if self.is_alone() {
            // Nothing else is likely to ask for this edge: at once, without the batching
            // window; the rows are a sibling set of their own.
            let rows = loader.loader().load(&[key]).await?.remove(&key);
            let rows = rows.unwrap_or_default();
            let children = Together::of(rows.iter().filter_map(&child_key).collect());
            return Ok((rows, children));
        }
        Ok((
            loader.load_one(key).await?.unwrap_or_default(),
            Together::default(),
        ))
    }
}
