pub mod loaders;
pub mod placement;
pub mod schema;
pub mod service;
pub mod transitions;
pub mod validate;
