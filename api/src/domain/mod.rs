//! One folder per area: `service.rs` holds the rules and transactions and knows no GraphQL;
//! `schema.rs` exposes them; `loaders.rs` batches relation edges.

pub mod accounts;
pub mod audit;
pub mod entitlements;
pub mod instances;
pub mod licenses;
pub mod nodes;
pub mod plans;
pub mod seats;
pub mod usage;
