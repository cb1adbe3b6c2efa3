use crate::graphql::loader::{LoaderError, fetch_in, group_by};
use async_graphql::dataloader::Loader;
use entity::instances;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Each developer's instances, deleted ones included, oldest first.
pub struct InstancesByDeveloper(pub DatabaseConnection);

impl Loader<Uuid> for InstancesByDeveloper {
    type Value = Vec<instances::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut rows =
            fetch_in::<instances::Entity>(&self.0, instances::Column::DeveloperId, keys).await?;
        rows.sort_by_key(|i| i.id);
        Ok(group_by(rows, |i| i.developer_id))
    }
}
