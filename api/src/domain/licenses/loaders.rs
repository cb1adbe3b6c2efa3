use crate::graphql::loader::{LoaderError, fetch_in};
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
        let rows =
            fetch_in::<licenses::Entity>(&self.0, licenses::Column::DeveloperId, keys).await?;
        let mut by_developer: HashMap<Uuid, Vec<licenses::Model>> = HashMap::new();
        for license in rows {
            by_developer
                .entry(license.developer_id)
                .or_default()
                .push(license);
        }
        for list in by_developer.values_mut() {
            list.sort_by_key(|l| l.id);
        }
        Ok(by_developer)
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
