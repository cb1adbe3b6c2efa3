//! API tokens: how partners call the API. Made by a developer (for its own data) or an admin,
//! limited to scopes, acting as their owner.
//! - `service.rs`: creating, revoking and listing tokens, and authenticating one.
//! - `schema.rs`: the `ApiToken` type, its query and mutations.

pub mod schema;
pub mod service;
