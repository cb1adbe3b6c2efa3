//! Instance logs: lines an instance writes about itself with its own token.
//! - `service.rs`: log levels, appending a batch.
//! - `listing.rs`: reading an instance's logs, newest first, by keyset.
//! - `schema.rs`: the `InstanceLog` type, `instanceLogs`, `appendInstanceLogs`.

pub mod listing;
pub mod schema;
pub mod service;
