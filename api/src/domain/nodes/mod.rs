pub mod loaders;
pub mod schema;
pub mod service;
