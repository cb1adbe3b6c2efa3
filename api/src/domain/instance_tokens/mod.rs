//! Instance tokens: credentials an instance presents to write and read its own logs.
//! - `format.rs`: the token's shape, generation and stored digest.
//! - `service.rs`: creating, revoking and listing tokens, and authenticating one.
//! - `schema.rs`: the `InstanceToken` type, its query and mutations.

pub mod format;
pub mod schema;
pub mod service;
