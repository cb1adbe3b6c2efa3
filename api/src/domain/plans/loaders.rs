use crate::graphql::loader::{LoaderError, fetch_in, group_by};
use async_graphql::dataloader::Loader;
use entity::{plan_entitlements, plan_prices, plans};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use uuid::Uuid;

pub struct PlanById(pub DatabaseConnection);

impl Loader<Uuid> for PlanById {
    type Value = plans::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = fetch_in::<plans::Entity>(&self.0, plans::Column::Id, keys).await?;
        Ok(rows.into_iter().map(|p| (p.id, p)).collect())
    }
}

pub struct EntitlementsByPlan(pub DatabaseConnection);

impl Loader<Uuid> for EntitlementsByPlan {
    type Value = plan_entitlements::Model;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows =
            fetch_in::<plan_entitlements::Entity>(&self.0, plan_entitlements::Column::PlanId, keys)
                .await?;
        Ok(rows.into_iter().map(|e| (e.plan_id, e)).collect())
    }
}

/// A plan version's prices, month before year.
pub struct PricesByPlan(pub DatabaseConnection);

impl Loader<Uuid> for PricesByPlan {
    type Value = Vec<plan_prices::Model>;
    type Error = LoaderError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut rows =
            fetch_in::<plan_prices::Entity>(&self.0, plan_prices::Column::PlanId, keys).await?;
        rows.sort_by(|a, b| a.interval.cmp(&b.interval));
        Ok(group_by(rows, |price| price.plan_id))
    }
}
