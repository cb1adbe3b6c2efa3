//! Who is calling.
//! - `actor.rs`: the request's actor (caller, origin, time), built once at the edge.
//! - `caller.rs`: the kinds of caller and the checks a service asks of them.
//! - `jwt.rs`: signing and verifying access tokens, with key rotation.
//! - `opaque_token.rs`: instance and refresh tokens: generated, shown once, stored as digests.
//! - `scopes.rs`: what an API token may reach: its scopes, and which each type and mutation
//!   needs.
//! - `token_use.rs`: when a stored token was last presented, written at most once a minute.
//! - `password.rs`: argon2id hashing, off the async threads, a few at a time.
//! - `visibility.rs`: who may see what: the one rule every GraphQL object type answers to.

mod actor;
mod caller;
pub mod jwt;
pub mod opaque_token;
pub mod password;
pub mod scopes;
pub mod token_use;
mod visibility;

pub use actor::{Actor, TokenGrant};
pub use caller::{ActorType, Caller, RequestMeta, Role};
pub use jwt::{IssuedToken, JwtKeys};
pub use visibility::Audience;
