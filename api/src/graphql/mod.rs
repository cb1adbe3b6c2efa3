//! The GraphQL schema: merged roots, limits, loaders.

pub mod context;
mod limits;
pub mod loader;
pub mod pagination;

use crate::config::LimitsConfig;
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::{AccountsMutation, AccountsQuery};
use crate::domain::audit::loaders::AuditEventsByEntity;
use crate::domain::audit::schema::AuditQuery;
use crate::domain::entitlements::loaders::EntitlementsByDeveloper;
use crate::domain::entitlements::schema::{EntitlementsMutation, EntitlementsQuery};
use crate::domain::instances::loaders::{InstancesByDeveloper, PoolById};
use crate::domain::instances::logs_schema::{InstanceLogsMutation, InstanceLogsQuery};
use crate::domain::instances::schema::{InstancesMutation, InstancesQuery};
use crate::domain::instances::tokens_schema::{InstanceTokensMutation, InstanceTokensQuery};
use crate::domain::licenses::loaders::{LicenseById, LicensesByDeveloper};
use crate::domain::licenses::schema::{LicensesMutation, LicensesQuery, LicensesSubscription};
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::schema::{NodesMutation, NodesQuery};
use crate::domain::plans::loaders::{EntitlementsByPlan, PlanById};
use crate::domain::plans::schema::PlansQuery;
use crate::domain::seats::loaders::ActiveAssignmentsByLicense;
use crate::domain::seats::schema::SeatsMutation;
use crate::domain::usage::loaders::{UsageNowByDeveloper, UsageSeries};
use crate::domain::usage::schema::{UsageMutation, UsageQuery};
use crate::state::AppState;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use std::time::Duration;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    AccountsQuery,
    PlansQuery,
    LicensesQuery,
    NodesQuery,
    AuditQuery,
    InstancesQuery,
    InstanceTokensQuery,
    InstanceLogsQuery,
    UsageQuery,
    EntitlementsQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AccountsMutation,
    LicensesMutation,
    SeatsMutation,
    NodesMutation,
    InstancesMutation,
    InstanceTokensMutation,
    InstanceLogsMutation,
    UsageMutation,
    EntitlementsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(LicensesSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

fn loader<K, T>(fetcher: T, delay: Duration) -> DataLoader<T>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K>,
{
    DataLoader::new(fetcher, tokio::spawn).delay(delay)
}

/// The schema that serves requests, with its limits, state and one loader per relation edge.
pub fn build_schema(state: AppState) -> AppSchema {
    let limits: &LimitsConfig = &state.config.limits;
    let db = state.db.clone();
    let delay = Duration::from_micros(limits.dataloader_delay_micros);
    let mut schema = builder()
        .limit_recursive_depth(limits.max_recursion)
        .limit_directives(limits.max_directives)
        .extension(limits::QueryLimits {
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
        })
        .data(loader(UserById(db.clone()), delay))
        .data(loader(PlanById(db.clone()), delay))
        .data(loader(EntitlementsByPlan(db.clone()), delay))
        .data(loader(LicensesByDeveloper(db.clone()), delay))
        .data(loader(LicenseById(db.clone()), delay))
        .data(loader(ActiveAssignmentsByLicense(db.clone()), delay))
        .data(loader(ActiveNodesByLicense(db.clone()), delay))
        .data(loader(InstancesByDeveloper(db.clone()), delay))
        .data(loader(PoolById(db.clone()), delay))
        .data(loader(UsageSeries(db.clone()), delay))
        .data(loader(UsageNowByDeveloper(db.clone()), delay))
        .data(loader(
            EntitlementsByDeveloper {
                db: db.clone(),
                cache: state.entitlements.clone(),
            },
            delay,
        ))
        .data(loader(AuditEventsByEntity(db), delay));
    if !limits.introspection {
        schema = schema.disable_introspection();
    }
    schema.data(state).finish()
}

/// The SDL clients code against; `schema.graphql` at the top of the repository is this.
pub fn export_sdl() -> String {
    builder().finish().sdl()
}
