use crate::graphql::loader::{LoaderError, fetch_in};
use async_graphql::dataloader::Loader;
use entity::database_pools;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Pools by id, for `Instance.pool`.
pub struct PoolById(pub DatabaseConnection);

impl Loader<Uuid> for PoolById {
    type Value = database_pools::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows =
            fetch_in::<database_pools::Entity>(&self.0, database_pools::Column::Id, keys).await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}
