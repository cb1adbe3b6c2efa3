//! The scheduler: jobs inside every gateway that move licenses through time and keep tables
//! within their retention, so nothing waits for someone to call. Gateways sharing a database
//! take turns: a job runs in one gateway at a time, under a lease on its row.
//! - `jobs.rs`: the jobs, how often each runs, and what each does.
//! - `lease.rs`: the job rows: claiming one, and recording how its run went.
//! - `runner.rs`: the loop each gateway runs, and running every job at once (the test clock).
//! - `retention.rs`: pruning old instance logs and raw usage events.
//! - `schema.rs`: `schedulerJobs` and `advanceTestClock`, for admins.

pub mod jobs;
pub mod lease;
pub mod retention;
pub mod runner;
pub mod schema;
