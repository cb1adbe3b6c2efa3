//! Money: payment webhooks that move licenses, and the subscriptions they mirror.
//! - `model.rs`: subscription and webhook statuses; a provider event as it arrives.
//! - `signature.rs`: checking the provider's signature before anything is read.
//! - `webhooks.rs`: storing each event once with its effects; dead letters and their retries.
//! - `effects.rs`: what each event does to a subscription and its license.
//! - `plan_follow.rs`: the price a subscription pays, and its license following that plan.
//! - `ledger.rs`: invoices and transactions as the provider reports them.
//! - `provider/`: the payment provider behind one trait: Stripe's API, or the sandbox.
//! - `purchase.rs`: checkout, the billing portal, cancelling and resuming, and a plan change
//!   billed through the provider.
//! - `listing.rs`: subscriptions, invoices and transactions as their owners read them.
//! - `revenue.rs`: the revenue report.
//! - `metrics.rs`: subscription counts, churn and monthly recurring revenue.
//! - `schema.rs`: `WebhookEvent`, `failedWebhooks`, `retryFailedWebhook`,
//!   `discardFailedWebhook`, for admins.

pub mod effects;
pub mod ledger;
pub mod listing;
pub mod metrics;
pub mod model;
pub mod plan_follow;
pub mod provider;
pub mod purchase;
pub mod revenue;
pub mod schema;
pub mod signature;
pub mod webhooks;
