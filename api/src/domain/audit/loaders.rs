use crate::graphql::loader::{CappedEdge, LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::audit_events;
use sea_orm::DatabaseConnection;
use sea_orm::sea_query::Condition;
use std::collections::HashMap;
use uuid::Uuid;

/// Audit events about each entity, newest first, a page at most.
pub struct AuditEventsByEntity {
    db: DatabaseConnection,
    edge: CappedEdge<audit_events::Entity>,
}

impl AuditEventsByEntity {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        let edge = CappedEdge {
            key: audit_events::Column::EntityId,
            order: audit_events::Column::Id,
            descending: true,
            only: Condition::all(),
            cap,
        };
        Self { db, edge }
    }
}

impl Loader<Uuid> for AuditEventsByEntity {
    type Value = Vec<audit_events::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        // Fetched by entity id, so every row has one.
        Ok(group_by(rows, |e| e.entity_id.unwrap_or_default()))
    }
}
