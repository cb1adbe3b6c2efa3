//! The plan catalogue.
//! - `model.rs`: billing intervals and database types.
//! - `schema.rs`: `plans`, `plan`, and the `Plan` and `Entitlements` types.
//! - `service.rs`: reading the catalogue, the plan a signup may buy.
//! - `seed.rs`: the catalogue every new database starts with.
//! - `loaders.rs`: plans and their entitlements by id.

pub mod loaders;
pub mod model;
pub mod schema;
pub mod seed;
pub mod service;
