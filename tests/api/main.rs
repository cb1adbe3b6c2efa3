//! Integration tests: each starts the real server on a loopback port against its own fresh
//! database (a temp SQLite file, or with `TEST_DATABASE_URL` a new PostgreSQL database) and
//! talks GraphQL over HTTP and WebSocket like any client.

mod helpers;

mod access_log;
mod account_mail;
mod accounts;
mod api_tokens;
mod audit;
mod auth;
mod billing;
mod boundary;
mod checkout;
mod credits;
mod domain_events;
mod entitlements;
mod event_log;
mod events;
mod http;
mod idempotency;
mod instance_logs;
mod instances;
mod isolation;
mod license_files;
mod license_pages;
mod license_queries;
mod license_status;
mod licenses;
mod mail;
mod members;
mod migrations;
mod nodes;
mod outages;
mod plain_fields;
mod plan_catalogue;
mod plan_changes;
mod query_plans;
mod scale_seed;
mod scheduler;
mod schema;
mod schema_walk;
mod seats;
mod sessions;
mod shaped;
mod shutdown;
mod slow_subscribers;
mod statements;
mod stripe_provider;
mod total_count;
mod usage;
mod validation_batches;
mod webhooks_out;
mod websocket;
