//! Mail that leaves the building: written to an outbox in the transaction of the change it
//! belongs to, delivered afterwards by a worker in each gateway, through SMTP or into the log.
//! - `model.rs`: what a mail is for and where it stands; the mail a flow queues; a stored
//!   mail's body as sent (its one-time link whole) and as shown (the token `[hidden]`).
//! - `service.rs`: `queue`, inside the caller's unit of work; the outbox as admins read it.
//! - `delivery.rs`: the worker: claiming due mail across gateways, retries with backoff.
//! - `mailer.rs`: where mail goes: SMTP, or the log without the token.
//! - `schema.rs`: the `Mail` type and `mailOutbox`, for admins.

pub mod delivery;
pub mod mailer;
pub mod model;
pub mod schema;
pub mod service;
