//! Entitlements: what a developer's plan grants, with per-developer overrides on top, cached
//! per process and invalidated across processes through the event bus.

pub mod cache;
pub mod catalogue;
pub mod loaders;
pub mod resolve;
pub mod schema;
pub mod service;
