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
use crate::domain::licenses::loaders::{LicenseById, LicensesByDeveloper};
use crate::domain::licenses::schema::{LicensesMutation, LicensesQuery, LicensesSubscription};
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::schema::{NodesMutation, NodesQuery};
use crate::domain::plans::loaders::{EntitlementsByPlan, PlanById};
use crate::domain::plans::schema::PlansQuery;
use crate::domain::seats::loaders::ActiveAssignmentsByLicense;
use crate::domain::seats::schema::SeatsMutation;
use crate::state::AppState;
use async_graphql::dataloader::DataLoader;
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    AccountsQuery,
    PlansQuery,
    LicensesQuery,
    NodesQuery,
    AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AccountsMutation,
    LicensesMutation,
    SeatsMutation,
    NodesMutation,
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

/// The schema that serves requests, with its limits, state and one loader per relation edge.
pub fn build_schema(state: AppState) -> AppSchema {
    let limits: &LimitsConfig = &state.config.limits;
    let db = state.db.clone();
    let mut schema = builder()
        .limit_recursive_depth(limits.max_recursion)
        .limit_directives(limits.max_directives)
        .extension(limits::QueryLimits {
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
        })
        .data(DataLoader::new(UserById(db.clone()), tokio::spawn))
        .data(DataLoader::new(PlanById(db.clone()), tokio::spawn))
        .data(DataLoader::new(
            EntitlementsByPlan(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            LicensesByDeveloper(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(LicenseById(db.clone()), tokio::spawn))
        .data(DataLoader::new(
            ActiveAssignmentsByLicense(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            ActiveNodesByLicense(db.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(AuditEventsByEntity(db), tokio::spawn));
    if !limits.introspection {
        schema = schema.disable_introspection();
    }
    schema.data(state).finish()
}

/// The SDL clients code against; `schema.graphql` at the top of the repository is this.
pub fn export_sdl() -> String {
    builder().finish().sdl()
}
