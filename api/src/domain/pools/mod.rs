//! Shared database pools, where shared instances' databases live.
//! - `model.rs`: pool statuses.
//! - `placement.rs`: taking and releasing slots, placing waiting instances.
//! - `service.rs`: adding and changing pools (admins), their load.
//! - `schema.rs`: the `DatabasePool` type, its queries and mutations.
//! - `loaders.rs`: pools by id.

pub mod loaders;
pub mod model;
pub mod placement;
pub mod schema;
pub mod service;
