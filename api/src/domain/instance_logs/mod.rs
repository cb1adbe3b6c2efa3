//! Instance logs: lines an instance writes about itself with its own token.
//! - `model.rs`: log levels, and a line as an instance sends it.
//! - `service.rs`: appending a batch.
//! - `listing.rs`: reading an instance's logs, newest first, by keyset.
//! - `schema.rs`: the `InstanceLog` type, `instanceLogs`, `appendInstanceLogs`.

pub mod listing;
pub mod model;
pub mod schema;
pub mod service;
