//! Sign-in sessions: short-lived access tokens that name their session, refresh tokens that are
//! used up as they are used, and sessions that end at once when revoked.
//! - `service.rs`: opening a session, refreshing it (with reuse detection), logging out.
//! - `liveness.rs`: whether a session still holds, asked on every request and kept briefly,
//!   forgotten across gateways when one is revoked.
//! - `schema.rs`: `refreshToken`, `logout`, `logoutEverywhere`.

pub mod liveness;
pub mod schema;
pub mod service;
