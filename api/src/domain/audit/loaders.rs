use crate::graphql::loader::{LoaderError, fetch_in};
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
        let rows =
            fetch_in::<audit_events::Entity>(&self.0, audit_events::Column::EntityId, keys).await?;
        let mut by_entity: HashMap<Uuid, Self::Value> = HashMap::new();
        for row in rows {
            if let Some(entity) = row.entity_id {
                by_entity.entry(entity).or_default().push(row);
            }
        }
        for list in by_entity.values_mut() {
            list.sort_by_key(|e| std::cmp::Reverse(e.id));
        }
        Ok(by_entity)
    }
}
