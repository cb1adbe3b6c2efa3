//! Webhooks out: developers (for their own events) and admins (for every event) register
//! endpoints; each event a unit of work commits is written, in its transaction, as a delivery
//! to every endpoint that wants it, and a worker in each gateway posts it, signed the Standard
//! Webhooks way, retrying with backoff until it succeeds or its window ends.
//! - `model.rs`: delivery statuses, the event types endpoints may ask for, the body posted.
//! - `signature.rs`: endpoint secrets (derived, never stored) and the signature header.
//! - `target.rs`: which URLs and addresses a webhook may go to.
//! - `outbox.rs`: the fan-out statement the unit of work runs at commit.
//! - `service.rs`: endpoints, their secrets, listing deliveries, resending, testing.
//! - `delivery.rs`: the worker: claiming due deliveries across gateways, posting, retrying,
//!   disabling endpoints that keep failing.
//! - `loaders.rs`: each delivery's attempts, for `WebhookDelivery.attemptHistory`.
//! - `schema.rs`: the `WebhookEndpoint`, `WebhookDelivery` and `WebhookAttempt` types, queries
//!   and mutations.

pub mod delivery;
pub mod loaders;
pub mod model;
pub mod outbox;
pub mod schema;
pub mod service;
pub mod signature;
pub mod target;
