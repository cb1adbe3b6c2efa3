pub mod loaders;
pub mod schema;
pub mod seed;
pub mod service;
