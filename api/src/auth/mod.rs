//! Who is calling.
//! - `actor.rs`: the request's actor (caller, origin, time), built once at the edge.
//! - `caller.rs`: the kinds of caller and the checks a service asks of them.
//! - `jwt.rs`: signing and verifying access tokens, with key rotation.
//! - `password.rs`: argon2id hashing, off the async threads.

mod actor;
mod caller;
pub mod jwt;
pub mod password;

pub use actor::Actor;
pub use caller::{ActorType, Caller, RequestMeta, Role};
pub use jwt::{IssuedToken, JwtKeys};
