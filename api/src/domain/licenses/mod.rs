//! Licenses: keys, the state machine, issuing and editing, finding them.
//! - `model.rs`: states, payment states and terms.
//! - `transitions.rs`: the state machine, as data.
//! - `keys.rs`: generating keys and their stored digests.
//! - `changes.rs`: what a license change audits and publishes.
//! - `service.rs`: issuing (signup's first license, admins', developers'), editing, re-keying.
//! - `lifecycle.rs`: moving a license through its states, renewing it.
//! - `time_rules.rs`: what time does to a license (trials, grace, terms ending); the scheduler
//!   runs them.
//! - `listing.rs`: the `licenses` list: filters, sorts, search.
//! - `keyset.rs`: its cursors, and the index ranges a page reads from one.
//! - `schema.rs`: the `License` type, its queries, mutations and `licenseEvents`.
//! - `loaders.rs`: licenses by id and by developer.

pub mod changes;
pub mod keys;
pub mod keyset;
pub mod lifecycle;
pub mod listing;
pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
pub mod shaped;
pub mod time_rules;
pub mod transitions;
