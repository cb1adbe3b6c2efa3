use super::model::AssignmentStatus;
use crate::graphql::loader::{CappedEdge, LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::license_assignments;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, DatabaseConnection};
use std::collections::HashMap;
use uuid::Uuid;

/// The seats each license has given (held, or waiting on an invitation), oldest first, a page
/// at most.
pub struct HeldAssignmentsByLicense {
    db: DatabaseConnection,
    edge: CappedEdge<license_assignments::Entity>,
}

impl HeldAssignmentsByLicense {
    pub fn new(db: DatabaseConnection, cap: u64) -> Self {
        Self {
            db,
            edge: Self::edge(cap),
        }
    }

    /// The edge this loads, a page at most for each key (also shaped into answers: `shaped`).
    pub fn edge(cap: u64) -> CappedEdge<license_assignments::Entity> {
        let held =
            [AssignmentStatus::Active, AssignmentStatus::Pending].map(AssignmentStatus::as_str);
        let active = license_assignments::Column::Status.is_in(held);
        CappedEdge {
            key: license_assignments::Column::LicenseId,
            order: license_assignments::Column::Id,
            descending: false,
            only: Condition::all().add(active),
            cap,
        }
    }
}

impl Loader<Uuid> for HeldAssignmentsByLicense {
    type Value = Vec<license_assignments::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = self.edge.fetch(&self.db, keys).await?;
        Ok(group_by(rows, |a| a.license_id))
    }
}
