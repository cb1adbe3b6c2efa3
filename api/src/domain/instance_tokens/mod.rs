//! Instance tokens: credentials an instance presents to write and read its own logs.
//! - `service.rs`: creating, revoking and listing tokens, and authenticating one.
//! - `schema.rs`: the `InstanceToken` type, its query and mutations.

pub mod schema;
pub mod service;
