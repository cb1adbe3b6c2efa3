//! Runtime nodes: the vendor's deployed software, registered by fingerprint, checking in.
//! - `model.rs`: node statuses.
//! - `service.rs`: activating, heartbeats, deactivating, replacing.
//! - `quick_heartbeat.rs`: a live node's heartbeat in one statement on PostgreSQL.
//! - `time_rules.rs`: late nodes announced dead, and culled past the resurrection window (the
//!   scheduler runs it).
//! - `schema.rs`: the `RuntimeNode` type and its mutations.
//! - `loaders.rs`: a license's registered nodes.

pub mod loaders;
pub mod model;
mod quick_heartbeat;
pub mod schema;
pub mod service;
pub mod shaped;
pub mod time_rules;
