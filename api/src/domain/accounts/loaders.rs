use super::readable::accounts;
use crate::graphql::loader::{LoaderError, one_of};
use async_graphql::dataloader::Loader;
use entity::users;
use sea_orm::{DatabaseConnection, QueryFilter};
use std::collections::HashMap;
use uuid::Uuid;

pub struct UserById(pub DatabaseConnection);

impl Loader<Uuid> for UserById {
    type Value = users::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let backend = self.0.get_database_backend();
        let rows = accounts()
            .filter(one_of(backend, users::Column::Id, keys))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}
