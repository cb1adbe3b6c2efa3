//! The payment provider, behind one trait: Stripe when a secret key is configured, else the
//! sandbox, which completes every operation at once inside the gateway by emitting the events
//! Stripe would send, handled by the same code as Stripe's webhooks.
//! - `stripe.rs`: the Stripe API client (form-encoded requests, idempotency keys, one retry).
//! - `sandbox.rs`: the stand-in that needs nothing.

mod sandbox;
mod stripe;

use crate::auth::Actor;
use crate::config::{AppEnv, Config};
use crate::error::AppResult;
use async_trait::async_trait;
use entity::{plan_prices, plans, subscriptions, users};
use std::sync::Arc;
use uuid::Uuid;

pub use sandbox::Sandbox;
pub use stripe::StripeClient;

/// What a checkout sells: one price of a plan, to a developer, for one of its licenses.
pub struct Order<'a> {
    pub developer: &'a users::Model,
    pub license_id: Uuid,
    pub plan: &'a plans::Model,
    pub price: &'a plan_prices::Model,
    /// The developer's customer at the provider, when it has one already.
    pub customer_id: Option<&'a str>,
}

/// A page of the provider's that the customer is sent to.
pub struct Hosted {
    pub id: String,
    pub url: String,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// As stored with what it reports: `stripe` or `sandbox`.
    fn name(&self) -> &'static str;

    /// Starts a subscription's checkout; the sandbox completes it at once.
    async fn checkout(&self, actor: &Actor, order: &Order<'_>) -> AppResult<Hosted>;

    /// Where a customer manages its payment details and invoices.
    async fn portal(&self, actor: &Actor, customer_id: &str) -> AppResult<Hosted>;

    /// Cancels now, or at the end of the period paid for.
    async fn cancel(
        &self,
        actor: &Actor,
        subscription: &subscriptions::Model,
        at_period_end: bool,
    ) -> AppResult<()>;

    /// Takes back a cancellation due at the period's end.
    async fn resume(&self, actor: &Actor, subscription: &subscriptions::Model) -> AppResult<()>;

    /// Bills the subscription at another price from now on.
    async fn change_price(
        &self,
        actor: &Actor,
        subscription: &subscriptions::Model,
        price: &plan_prices::Model,
    ) -> AppResult<()>;
}

/// The provider this gateway's configuration names. With no key, the sandbox, except in
/// production, where nothing may be bought for nothing: there payments are unavailable.
pub fn from_config(config: &Config) -> Option<Arc<dyn PaymentProvider>> {
    let billing = &config.billing;
    match &billing.stripe_secret_key {
        Some(key) => Some(Arc::new(StripeClient::new(
            key.clone(),
            billing.stripe_api_url.clone(),
        ))),
        None if config.env == AppEnv::Production => None,
        None => Some(Arc::new(Sandbox)),
    }
}

/// Where the provider sends the customer back: the configured return address.
pub fn return_url(config: &Config, outcome: &str) -> String {
    let base = &config.billing.return_url;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}checkout={outcome}")
}
