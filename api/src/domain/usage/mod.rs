//! Usage metering: idempotent batches of events, roll-ups kept current on write, hard quotas
//! and threshold events, and the series and totals clients read.

pub mod ingest;
pub mod loaders;
pub mod metrics;
pub mod query;
pub mod quota;
pub mod rollup;
pub mod schema;
