use crate::graphql::loader::{LoaderError, fetch_in, group_by};
use async_graphql::dataloader::Loader;
use entity::audit_events;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Audit events about each entity, newest first.
pub struct AuditEventsByEntity(pub DatabaseConnection);

impl Loader<Uuid> for AuditEventsByEntity {
    type Value = Vec<audit_events::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut rows =
            fetch_in::<audit_events::Entity>(&self.0, audit_events::Column::EntityId, keys).await?;
        rows.sort_by_key(|e| std::cmp::Reverse(e.id));
        // Fetched by entity id, so every row has one.
        Ok(group_by(rows, |e| e.entity_id.unwrap_or_default()))
    }
}
