use crate::graphql::loader::{CappedEdge, LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::webhook_attempts;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Condition;
use std::collections::HashMap;
use uuid::Uuid;

/// The attempts each delivery has made, newest first, a page at most.
pub struct AttemptsByDelivery {
    db: DatabaseConnection,
    edge: CappedEdge<webhook_attempts::Entity>,
}

impl AttemptsByDelivery {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        let edge = CappedEdge {
            key: webhook_attempts::Column::DeliveryId,
            order: webhook_attempts::Column::Number,
            descending: true,
            only: Condition::all(),
            cap,
        };
        Self { db, edge }
    }
}

impl Loader<Uuid> for AttemptsByDelivery {
    type Value = Vec<webhook_attempts::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        Ok(group_by(rows, |a| a.delivery_id))
    }
}
