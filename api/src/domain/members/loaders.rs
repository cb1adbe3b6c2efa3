use crate::graphql::loader::{LoaderError, fetch_in};
use async_graphql::dataloader::Loader;
use entity::invitations;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub struct InvitationById(pub DatabaseConnection);

impl Loader<Uuid> for InvitationById {
    type Value = invitations::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = fetch_in::<invitations::Entity>(&self.0, invitations::Column::Id, keys).await?;
        Ok(rows.into_iter().map(|i| (i.id, i)).collect())
    }
}
