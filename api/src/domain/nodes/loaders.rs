use super::model::NodeStatus;
use crate::graphql::loader::{CappedEdge, LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::runtime_nodes;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DatabaseConnection};
use std::collections::HashMap;
use uuid::Uuid;

/// Active (not deactivated) runtime nodes of each license, oldest first, a page at most.
pub struct ActiveNodesByLicense {
    db: DatabaseConnection,
    edge: CappedEdge<runtime_nodes::Entity>,
}

impl ActiveNodesByLicense {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        Self {
            db,
            edge: Self::edge(cap),
        }
    }

    /// The edge this loads, a page at most for each key (also shaped into answers: `shaped`).
    pub fn edge(cap: u64) -> CappedEdge<runtime_nodes::Entity> {
        let active = runtime_nodes::Column::Status.eq(NodeStatus::Active.as_str());
        CappedEdge {
            key: runtime_nodes::Column::LicenseId,
            order: runtime_nodes::Column::Id,
            descending: false,
            only: Condition::all().add(active),
            cap,
        }
    }
}

impl Loader<Uuid> for ActiveNodesByLicense {
    type Value = Vec<runtime_nodes::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        Ok(group_by(rows, |n| n.license_id))
    }
}
