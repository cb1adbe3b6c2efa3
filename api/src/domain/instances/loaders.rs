use crate::graphql::loader::{CappedEdge, LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::instances;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Condition;
use std::collections::HashMap;
use uuid::Uuid;

/// Each developer's instances, deleted ones included, oldest first, a page at most.
pub struct InstancesByDeveloper {
    db: DatabaseConnection,
    edge: CappedEdge<instances::Entity>,
}

impl InstancesByDeveloper {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        let edge = CappedEdge {
            key: instances::Column::DeveloperId,
            order: instances::Column::Id,
            descending: false,
            only: Condition::all(),
            cap,
        };
        Self { db, edge }
    }
}

impl Loader<Uuid> for InstancesByDeveloper {
    type Value = Vec<instances::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        Ok(group_by(rows, |i| i.developer_id))
    }
}
