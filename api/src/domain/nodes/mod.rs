pub mod loaders;
mod quick_heartbeat;
pub mod schema;
pub mod service;
