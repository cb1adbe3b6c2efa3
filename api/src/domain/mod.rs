//! One folder per area. Each holds `schema.rs` (its GraphQL types, queries, mutations and
//! subscriptions), `service.rs` or a few service files named for what they do (the rules and
//! transactions; no GraphQL), `loaders.rs` (one dataloader per relation edge) and, where it has
//! them, `model.rs` (its stored vocabularies and the filters clients send).
//! - `accounts`: developers, team members, admins; signup and login.
//! - `sessions`: sign-in sessions, refresh tokens, logging out.
//! - `plans`: the plan catalogue and what each plan grants.
//! - `licenses`: keys, the state machine, issuing, editing, listing.
//! - `validation`: `validateLicense`, the hot path, and refusing key guessers.
//! - `seats`: who may use a license.
//! - `nodes`: runtime nodes and their heartbeats.
//! - `license_files`: signed license files that verify offline, and signed validation answers.
//! - `pools`: shared database pools and placing instances in them.
//! - `instances`: customer instances and their state machine.
//! - `instance_tokens`: credentials an instance presents.
//! - `api_tokens`: partners' credentials, limited to scopes.
//! - `instance_logs`: what an instance logs about itself.
//! - `usage`: metering, roll-ups and quotas.
//! - `entitlements`: plan grants with per-developer overrides, cached across gateways.
//! - `audit`: reading the audit trail.
//! - `billing`: payment webhooks that move licenses; the subscriptions they mirror; buying
//!   through the payment provider.
//! - `credits`: monthly mail and sms credits, bought credits and their ledger.
//! - `mail`: the outbox and its delivery (SMTP, or the log).
//! - `members`: a developer's team: invitations, members, removing them.
//! - `scheduler`: jobs that move licenses through time and prune old rows.
//! - `webhooks`: endpoints that receive events, the outbox of deliveries and its worker.

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod billing;
pub mod credits;
pub mod entitlements;
pub mod instance_logs;
pub mod instance_tokens;
pub mod instances;
pub mod license_files;
pub mod licenses;
pub mod mail;
pub mod members;
pub mod nodes;
pub mod plans;
pub mod pools;
pub mod scheduler;
pub mod seats;
pub mod sessions;
pub mod usage;
pub mod validation;
pub mod webhooks;
