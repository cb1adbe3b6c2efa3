//! Runtime nodes: the vendor's deployed software, registered by fingerprint, checking in.
//! - `model.rs`: node statuses.
//! - `service.rs`: activating, heartbeats, deactivating, replacing.
//! - `quick_heartbeat.rs`: a live node's heartbeat in one statement on PostgreSQL.
//! - `schema.rs`: the `RuntimeNode` type and its mutations.
//! - `loaders.rs`: a license's registered nodes.

pub mod loaders;
pub mod model;
mod quick_heartbeat;
pub mod schema;
pub mod service;
