//! Customer instances: a customer's deployment with its own database.
//! - `model.rs`: instance statuses.
//! - `transitions.rs`: the state machine, as data.
//! - `input.rs`: the rules for subdomains.
//! - `changes.rs`: what an instance change records (history row, audit, event).
//! - `access.rs`: who may reach an instance: its developer, admins, its own tokens.
//! - `service.rs`: creating, moving and deleting instances.
//! - `paid.rs`: dedicated instances waiting for the first payment, provisioned once it comes.
//! - `schema.rs`: the `Instance` type, `instances` and the instance mutations.
//! - `loaders.rs`: a developer's instances.

pub mod access;
pub mod changes;
pub mod input;
pub mod loaders;
pub mod model;
pub mod paid;
pub mod schema;
pub mod service;
pub mod transitions;
