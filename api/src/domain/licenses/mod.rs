pub mod keys;
pub mod lifecycle;
pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
pub mod transitions;
