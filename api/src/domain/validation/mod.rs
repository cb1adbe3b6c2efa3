//! `validateLicense`, the hot path: a license key checked in one indexed statement.
//! - `service.rs`: validating a key (and a fingerprint, a product), refusing guessers first.
//! - `lookup.rs`: the statement, and on PostgreSQL the lanes that share one statement among
//!   validations arriving together.
//! - `verdict.rs`: the answer codes, as pure functions over stored facts (shared with
//!   activation and heartbeats).
//! - `schema.rs`: the `validateLicense` query and what a key holder may learn.

pub mod lookup;
pub mod schema;
pub mod service;
pub mod verdict;
