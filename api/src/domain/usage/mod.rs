//! Usage metering: idempotent batches of events, roll-ups kept current on write, hard quotas
//! and threshold events, and the series and totals clients read. The services are named for
//! what they do:
//! - `ingest.rs`: `recordUsage`, a batch of events in one transaction.
//! - `metrics.rs`: what is metered and how it aggregates; defining a metric.
//! - `query.rs`: series, this period's totals against their limits, instances near a quota.
//! - `rollup.rs`: folding events into roll-ups, and the upserts that apply them.
//! - `quota.rs`: the bounds quotas put on those upserts, and the thresholds they cross.
//! - `schema.rs`: the usage types, queries and mutations.
//! - `loaders.rs`: an instance's series, a developer's usage now.

pub mod ingest;
pub mod loaders;
pub mod metrics;
pub mod query;
pub mod quota;
pub mod rollup;
pub mod schema;
