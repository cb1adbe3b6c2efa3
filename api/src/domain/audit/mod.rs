//! The audit trail. Rows are written by the unit of work (`events/unit_of_work.rs`), one per
//! recorded change; this folder reads them.
//! - `model.rs`: the filter clients send.
//! - `service.rs`: the audit trail's filters and pages, admins all of it, developers their own.
//! - `schema.rs`: the `AuditEvent` type and `auditEvents`.
//! - `loaders.rs`: an entity's events.

pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
