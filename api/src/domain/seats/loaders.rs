use crate::graphql::loader::LoaderError;
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
            .filter(license_assignments::Column::Status.eq("active"))
            .order_by_asc(license_assignments::Column::Id)
            .all(&self.0)
            .await?;
        let mut by_license: HashMap<Uuid, Self::Value> = HashMap::new();
        for row in rows {
            by_license.entry(row.license_id).or_default().push(row);
        }
        Ok(by_license)
    }
}
