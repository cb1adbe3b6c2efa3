use crate::graphql::loader::{LoaderError, fetch_in, group_by};
use async_graphql::dataloader::Loader;
use entity::licenses;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// A developer's licenses, oldest first.
pub struct LicensesByDeveloper(pub DatabaseConnection);

impl Loader<Uuid> for LicensesByDeveloper {
    type Value = Vec<licenses::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut rows =
            fetch_in::<licenses::Entity>(&self.0, licenses::Column::DeveloperId, keys).await?;
        rows.sort_by_key(|l| l.id);
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
