use crate::graphql::loader::{CappedEdge, LoaderError, fetch_in, group_by};
use async_graphql::dataloader::Loader;
use entity::licenses;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Condition;
use std::collections::HashMap;
use uuid::Uuid;

/// A developer's licenses, oldest first, a page at most (the `licenses` connection pages
/// through all of them).
pub struct LicensesByDeveloper {
    db: DatabaseConnection,
    edge: CappedEdge<licenses::Entity>,
}

impl LicensesByDeveloper {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        Self {
            db,
            edge: Self::edge(cap),
        }
    }

    /// The edge this loads, a page at most for each key (also shaped into answers: `shaped`).
    pub fn edge(cap: u64) -> CappedEdge<licenses::Entity> {
        CappedEdge {
            key: licenses::Column::DeveloperId,
            order: licenses::Column::Id,
            descending: false,
            only: Condition::all(),
            cap,
        }
    }
}

impl Loader<Uuid> for LicensesByDeveloper {
    type Value = Vec<licenses::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        Ok(group_by(rows, |l| l.developer_id))
    }
}

/// Licenses by id, for events and lookups.
pub struct LicenseById(pub DatabaseConnection);

impl Loader<Uuid> for LicenseById {
    type Value = licenses::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = fetch_in::<licenses::Entity>(&self.0, licenses::Column::Id, keys).await?;
        Ok(rows.into_iter().map(|l| (l.id, l)).collect())
    }
}
