use super::model::NodeStatus;
use crate::graphql::loader::{LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::runtime_nodes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// Active (not deactivated) runtime nodes of each license, oldest first.
pub struct ActiveNodesByLicense(pub DatabaseConnection);

impl Loader<Uuid> for ActiveNodesByLicense {
    type Value = Vec<runtime_nodes::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = runtime_nodes::Entity::find()
            .filter(runtime_nodes::Column::LicenseId.is_in(keys.iter().copied()))
            .filter(runtime_nodes::Column::Status.eq(NodeStatus::Active.as_str()))
            .order_by_asc(runtime_nodes::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group_by(rows, |n| n.license_id))
    }
}
