use super::cache::EntitlementCache;
use super::resolve::Entitlements;
use crate::clock::Clock;
use crate::graphql::loader::LoaderError;
use async_graphql::dataloader::Loader;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Developers' entitlements through the process cache; the misses in one batch.
pub struct EntitlementsByDeveloper {
    pub db: DatabaseConnection,
    pub cache: EntitlementCache,
    pub clock: Clock,
}

impl Loader<Uuid> for EntitlementsByDeveloper {
    type Value = Arc<Entitlements>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(self
            .cache
            .get_many(&self.db, keys, self.clock.now())
            .await?)
    }
}
