use crate::graphql::loader::{LoaderError, fetch_in};
use async_graphql::dataloader::Loader;
use entity::users;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub struct UserById(pub DatabaseConnection);

impl Loader<Uuid> for UserById {
    type Value = users::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = fetch_in::<users::Entity>(&self.0, users::Column::Id, keys).await?;
        Ok(rows.into_iter().map(|u| (u.id, u)).collect())
    }
}
