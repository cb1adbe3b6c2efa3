//! The plan catalogue.
//! - `model.rs`: billing intervals and database types.
//! - `schema.rs`: `plans`, `plan`, `changePlan`, and the `Plan` and `Entitlements` types.
//! - `service.rs`: reading the catalogue, the plan a signup may buy.
//! - `manage.rs`: `createPlan`, `updatePlan`, `retirePlan`: the catalogue's versions and prices.
//! - `change.rs`: `changePlan`: moving a developer to another plan, refusing (or with `force`
//!   freeing) what the new limits leave over.
//! - `seed.rs`: the catalogue every new database starts with.
//! - `loaders.rs`: plans and their entitlements by id.

pub mod change;
pub mod loaders;
pub mod manage;
pub mod model;
pub mod schema;
pub mod seed;
pub mod service;
pub mod shaped;
