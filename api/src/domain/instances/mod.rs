pub mod placement;
pub mod schema;
pub mod service;
pub mod validate;
