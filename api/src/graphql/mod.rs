//! The GraphQL schema.
//! - `mod.rs`: the merged roots and the schema with its limits and loaders.
//! - `context.rs`: how a resolver reaches its actor and loaders, and follows an edge.
//! - `guard.rs`: the only way to make an object: from a row the actor may see.
//! - `connection.rs`: building a Relay connection from a page.
//! - `loader.rs`: what every dataloader shares.
//! - `limits.rs`: depth, complexity, size and input limits, and codes on engine errors.
//! - `document.rs`: the measures those limits take of a document before it runs.
//! - `plain.rs`: objects whose plain fields are answered without a future each.
//! - `event_subscriptions.rs`: a subscription per domain over the event log.

pub mod connection;
pub mod context;
pub mod document;
pub mod edge_lanes;
pub mod event_subscriptions;
pub mod guard;
pub mod limits;
pub mod loader;
pub mod plain;
pub mod scope_check;
pub mod shaped;
pub mod siblings;
pub mod spending;
pub mod written;

use crate::config::LimitsConfig;
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::{AccountsMutation, AccountsQuery};
use crate::domain::api_tokens::schema::{ApiTokensMutation, ApiTokensQuery};
use crate::domain::audit::loaders::AuditEventsByEntity;
use crate::domain::audit::schema::AuditQuery;
use crate::domain::billing::schema::{BillingMutation, BillingQuery, MoneyQuery};
use crate::domain::credits::schema::{CreditsMutation, CreditsQuery};
use crate::domain::entitlements::loaders::EntitlementsByDeveloper;
use crate::domain::entitlements::schema::{EntitlementsMutation, EntitlementsQuery};
use crate::domain::instance_logs::schema::{InstanceLogsMutation, InstanceLogsQuery};
use crate::domain::instance_tokens::schema::{InstanceTokensMutation, InstanceTokensQuery};
use crate::domain::instances::loaders::InstancesByDeveloper;
use crate::domain::instances::schema::{InstancesMutation, InstancesQuery};
use crate::domain::license_files::schema::{LicenseFilesMutation, LicenseFilesQuery};
use crate::domain::licenses::loaders::{LicenseById, LicensesByDeveloper};
use crate::domain::licenses::schema::{LicensesMutation, LicensesQuery, LicensesSubscription};
use crate::domain::mail::schema::MailQuery;
use crate::domain::members::loaders::InvitationById;
use crate::domain::members::schema::{MembersMutation, MembersQuery};
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::schema::NodesMutation;
use crate::domain::plans::loaders::{EntitlementsByPlan, PlanById, PricesByPlan};
use crate::domain::plans::schema::{PlansMutation, PlansQuery};
use crate::domain::pools::loaders::PoolById;
use crate::domain::pools::schema::{PoolsMutation, PoolsQuery};
use crate::domain::scheduler::schema::{SchedulerMutation, SchedulerQuery};
use crate::domain::seats::loaders::HeldAssignmentsByLicense;
use crate::domain::seats::schema::SeatsMutation;
use crate::domain::sessions::schema::SessionsMutation;
use crate::domain::usage::loaders::{UsageNowByDeveloper, UsageSeries};
use crate::domain::usage::schema::{UsageMutation, UsageQuery, UsageSubscription};
use crate::domain::validation::schema::{ValidationQuery, ValidationSubscription};
use crate::domain::webhooks::loaders::AttemptsByDelivery;
use crate::domain::webhooks::schema::{WebhooksMutation, WebhooksQuery};
use crate::state::AppState;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use edge_lanes::EdgeLanes;
use event_subscriptions::DomainSubscription;
use std::time::Duration;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    AccountsQuery,
    PlansQuery,
    LicensesQuery,
    ValidationQuery,
    LicenseFilesQuery,
    AuditQuery,
    PoolsQuery,
    InstancesQuery,
    InstanceTokensQuery,
    ApiTokensQuery,
    WebhooksQuery,
    InstanceLogsQuery,
    UsageQuery,
    EntitlementsQuery,
    MailQuery,
    MembersQuery,
    SchedulerQuery,
    BillingQuery,
    MoneyQuery,
    CreditsQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AccountsMutation,
    LicensesMutation,
    SeatsMutation,
    PlansMutation,
    MembersMutation,
    SchedulerMutation,
    BillingMutation,
    CreditsMutation,
    NodesMutation,
    LicenseFilesMutation,
    PoolsMutation,
    InstancesMutation,
    InstanceTokensMutation,
    ApiTokensMutation,
    WebhooksMutation,
    InstanceLogsMutation,
    UsageMutation,
    EntitlementsMutation,
    SessionsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    LicensesSubscription,
    ValidationSubscription,
    DomainSubscription,
    UsageSubscription,
);

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
pub fn build_schema(state: &AppState) -> AppSchema {
    let limits: &LimitsConfig = &state.config.limits;
    let db = state.db.clone();
    let delay = Duration::from_micros(limits.dataloader_delay_micros);
    // A relation field answers at most a page; the connections page through the rest.
    let cap = limits.max_page_size as u64;
    let mut schema = builder()
        .limit_recursive_depth(limits.max_recursion)
        .limit_directives(limits.max_directives)
        // Depth and complexity as the engine measures them in validation (their errors get
        // codes in `limits::coded`); the other document limits are checked before it runs.
        .limit_complexity(limits.max_complexity)
        .limit_depth(limits.max_depth + limits::INTROSPECTION_EXTRA_DEPTH)
        .data(loader(UserById(db.clone()), delay))
        .data(loader(InvitationById(db.clone()), delay))
        .data(loader(PlanById(db.clone()), delay))
        .data(loader(EntitlementsByPlan(db.clone()), delay))
        .data(loader(PricesByPlan(db.clone()), delay))
        .data(loader(LicensesByDeveloper::new(db.clone(), cap), delay))
        .data(loader(LicenseById(db.clone()), delay))
        .data(loader(
            HeldAssignmentsByLicense::new(db.clone(), cap),
            delay,
        ))
        .data(loader(ActiveNodesByLicense::new(db.clone(), cap), delay))
        .data(loader(InstancesByDeveloper::new(db.clone(), cap), delay))
        .data(loader(PoolById(db.clone()), delay))
        .data(loader(UsageSeries(db.clone()), delay))
        .data(loader(
            UsageNowByDeveloper {
                db: db.clone(),
                clock: state.clock.clone(),
            },
            delay,
        ))
        .data(loader(
            EntitlementsByDeveloper {
                db: db.clone(),
                cache: state.entitlements.clone(),
                clock: state.clock.clone(),
            },
            delay,
        ))
        .data(loader(AuditEventsByEntity::new(db.clone(), cap), delay))
        .data(loader(AttemptsByDelivery::new(db.clone(), cap), delay))
        // The edges lists load for all their members at once (`siblings.rs`).
        .data(EdgeLanes::new(LicensesByDeveloper::new(db.clone(), cap)))
        .data(EdgeLanes::new(InstancesByDeveloper::new(db.clone(), cap)))
        .data(EdgeLanes::new(HeldAssignmentsByLicense::new(
            db.clone(),
            cap,
        )))
        .data(EdgeLanes::new(ActiveNodesByLicense::new(db.clone(), cap)))
        .data(EdgeLanes::new(AuditEventsByEntity::new(db, cap)));
    if state.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        schema = schema.data(shaped::Shaping { cap });
    }
    if !limits.introspection {
        schema = schema.disable_introspection();
    }
    schema.finish()
}

/// The document limits a request is admitted by (`limits::QueryLimits::admit`), over HTTP and
/// WebSocket alike.
pub fn query_limits(limits: &LimitsConfig) -> limits::QueryLimits {
    limits::QueryLimits {
        max_depth: limits.max_depth,
        max_complexity: limits.max_complexity,
        max_tokens: limits.max_tokens,
        max_aliases: limits.max_aliases,
        max_string_chars: limits.max_string_chars,
        max_list_length: limits.max_list_length,
    }
}

/// The SDL clients code against; `schema.graphql` at the top of the repository is this.
pub fn export_sdl() -> String {
    builder().finish().sdl()
}
