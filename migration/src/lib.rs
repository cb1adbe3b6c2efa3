//! Schema migrations, portable across SQLite and PostgreSQL.
//!
//! Each file is named `mYYYYMMDD_NNNNNN_<verb>_<table>.rs` and is never edited once landed:
//! a later change is a new migration.

// The migration trait is declared through async_trait with an elided `SchemaManager` lifetime;
// spelling it out in the impls does not match the trait.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_create_users;
mod m20261123_000002_create_plans;
mod m20261123_000003_create_plan_entitlements;
mod m20261123_000004_create_trials;
mod m20261123_000005_create_licenses;
mod m20261123_000006_create_audit_events;
mod m20261123_000007_create_license_assignments;
mod m20261123_000008_create_runtime_nodes;
mod m20261123_000009_add_licensing_fields;
mod m20261123_000010_create_license_search_index;
mod m20261123_000011_add_audit_owner;
mod m20261123_000012_create_database_pools;
mod m20261123_000013_create_instances;
mod m20261123_000014_create_instance_logs;
mod m20261123_000015_create_usage;
mod m20261123_000016_create_entitlement_overrides;
mod m20261126_000017_add_user_developer;
mod m20261126_000018_create_mail_outbox;
mod m20261126_000019_create_sessions;
mod m20261126_000020_create_invitations;
mod m20261126_000021_create_scheduler_jobs;
mod m20261126_000022_create_billing;
mod m20261126_000023_create_invoices_and_transactions;
mod m20261126_000024_add_announcements;
mod m20261126_000025_index_dead_letters;
mod m20261126_000026_create_plan_versions_and_prices;
mod m20261126_000027_create_credits;
mod m20261126_000028_create_event_log;
mod m20261126_000029_index_license_orders;
mod m20261126_000030_index_license_filters;
mod m20261127_000031_index_listing_filters;
mod m20261127_000032_index_relation_edges;
mod m20261127_000033_create_api_tokens;
mod m20261127_000034_create_idempotency_keys;
mod m20261127_000035_create_webhooks;
mod m20261127_000036_create_webhook_attempts;

pub use m20261123_000010_create_license_search_index::SEARCH_DOCUMENT;
pub use m20261126_000029_index_license_orders::UTILIZATION;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_plans::Migration),
            Box::new(m20261123_000003_create_plan_entitlements::Migration),
            Box::new(m20261123_000004_create_trials::Migration),
            Box::new(m20261123_000005_create_licenses::Migration),
            Box::new(m20261123_000006_create_audit_events::Migration),
            Box::new(m20261123_000007_create_license_assignments::Migration),
            Box::new(m20261123_000008_create_runtime_nodes::Migration),
            Box::new(m20261123_000009_add_licensing_fields::Migration),
            Box::new(m20261123_000010_create_license_search_index::Migration),
            Box::new(m20261123_000011_add_audit_owner::Migration),
            Box::new(m20261123_000012_create_database_pools::Migration),
            Box::new(m20261123_000013_create_instances::Migration),
            Box::new(m20261123_000014_create_instance_logs::Migration),
            Box::new(m20261123_000015_create_usage::Migration),
            Box::new(m20261123_000016_create_entitlement_overrides::Migration),
            Box::new(m20261126_000017_add_user_developer::Migration),
            Box::new(m20261126_000018_create_mail_outbox::Migration),
            Box::new(m20261126_000019_create_sessions::Migration),
            Box::new(m20261126_000020_create_invitations::Migration),
            Box::new(m20261126_000021_create_scheduler_jobs::Migration),
            Box::new(m20261126_000022_create_billing::Migration),
            Box::new(m20261126_000023_create_invoices_and_transactions::Migration),
            Box::new(m20261126_000024_add_announcements::Migration),
            Box::new(m20261126_000025_index_dead_letters::Migration),
            Box::new(m20261126_000026_create_plan_versions_and_prices::Migration),
            Box::new(m20261126_000027_create_credits::Migration),
            Box::new(m20261126_000028_create_event_log::Migration),
            Box::new(m20261126_000029_index_license_orders::Migration),
            Box::new(m20261126_000030_index_license_filters::Migration),
            Box::new(m20261127_000031_index_listing_filters::Migration),
            Box::new(m20261127_000032_index_relation_edges::Migration),
            Box::new(m20261127_000033_create_api_tokens::Migration),
            Box::new(m20261127_000034_create_idempotency_keys::Migration),
            Box::new(m20261127_000035_create_webhooks::Migration),
            Box::new(m20261127_000036_create_webhook_attempts::Migration),
        ]
    }
}
