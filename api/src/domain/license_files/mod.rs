//! Licenses that verify offline: signed license files and nonce-bound validation answers.
//! - `signing.rs`: the Ed25519 key (configured or derived, the same on every gateway), its key
//!   id, and the public keys published for verifiers (current and retired).
//! - `file.rs`: what a license file states and its text block.
//! - `service.rs`: checking a file out for an activated runtime node, audited.
//! - `answers.rs`: validation answers signed over the client's nonce.
//! - `schema.rs`: `licenseSigningKey`, `checkoutLicenseFile`, and the signature type
//!   `validateLicense` answers with a nonce.

pub mod answers;
pub mod file;
pub mod schema;
pub mod service;
pub mod signing;
