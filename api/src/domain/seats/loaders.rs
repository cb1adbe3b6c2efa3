use super::model::AssignmentStatus;
use crate::graphql::loader::{LoaderError, group_by};
use async_graphql::dataloader::Loader;
use entity::license_assignments;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// Active seat assignments of each license, oldest first.
pub struct ActiveAssignmentsByLicense(pub DatabaseConnection);

impl Loader<Uuid> for ActiveAssignmentsByLicense {
    type Value = Vec<license_assignments::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = license_assignments::Entity::find()
            .filter(license_assignments::Column::LicenseId.is_in(keys.iter().copied()))
            .filter(license_assignments::Column::Status.eq(AssignmentStatus::Active.as_str()))
            .order_by_asc(license_assignments::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group_by(rows, |a| a.license_id))
    }
}
