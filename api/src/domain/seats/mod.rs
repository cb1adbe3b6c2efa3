//! Seats: who may use a license.
//! - `model.rs`: assignment statuses.
//! - `service.rs`: assigning, unassigning and revoking seats, exact under concurrency.
//! - `schema.rs`: the `Assignment` type and the seat mutations.
//! - `loaders.rs`: a license's held seats.

pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
pub mod shaped;
