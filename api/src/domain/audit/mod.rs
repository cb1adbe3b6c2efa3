pub mod listing;
pub mod loaders;
pub mod schema;
pub mod service;
