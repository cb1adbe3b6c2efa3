//! Entitlements: what a developer's plan grants, with per-developer overrides on top, cached
//! per process and invalidated across processes through the event bus.
//! - `catalogue.rs`: every entitlement key, its kind, and how a plan's row maps to it.
//! - `resolve.rs`: a developer's entitlements: its plan, with live overrides on top.
//! - `cache.rs`: the per-process cache and its invalidation on events.
//! - `service.rs`: setting and removing overrides, checking a feature.
//! - `schema.rs`: the `Entitlement` type, `entitlements`, `checkFeatureAccess`, the override
//!   mutations.
//! - `loaders.rs`: developers' entitlements through the cache.

pub mod cache;
pub mod catalogue;
pub mod loaders;
pub mod resolve;
pub mod schema;
pub mod service;
