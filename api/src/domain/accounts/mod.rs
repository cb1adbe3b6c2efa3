pub mod loaders;
pub mod schema;
pub mod service;
pub mod validate;
