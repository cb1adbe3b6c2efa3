pub mod keys;
pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
