//! What every request shares: the pool, configuration, keys, the clock and the event bus,
//! behind one pointer so that handing it to a request or an actor costs one reference count.

use crate::auth::JwtKeys;
use crate::auth::password::Passwords;
use crate::budgets::{AddressBudgets, TokenBudgets};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::billing::provider::PaymentProvider;
use crate::domain::entitlements::cache::EntitlementCache;
use crate::domain::license_files::signing::LicenseSigner;
use crate::domain::licenses::keys::LicenseKeys;
use crate::domain::sessions::liveness::Liveness;
use crate::domain::validation::lookup::LicenseLookup;
use crate::events::EventBus;
use crate::rate_limit::SharedLimiter;
use sea_orm::DatabaseConnection;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub jwt: JwtKeys,
    pub license_keys: LicenseKeys,
    /// Signs license files and nonce-bound validation answers.
    pub license_signer: LicenseSigner,
    /// Finds a license by key digest for validation, batching concurrent lookups.
    pub license_lookup: LicenseLookup,
    pub bus: EventBus,
    /// Counts wrong license keys per client IP.
    pub guesses: Arc<SharedLimiter>,
    /// Counts attempts at the account doors (login, signup, ...) per client IP and email.
    pub doors: Arc<SharedLimiter>,
    /// Refused usage announced (`usage.quota_exceeded`): once a minute per developer and metric.
    pub quota_notices: Arc<SharedLimiter>,
    /// Requests API tokens may still make this minute, per token and class.
    pub token_budgets: Arc<TokenBudgets>,
    /// What callers with no credential may send, per address.
    pub address_budgets: Arc<AddressBudgets>,
    pub passwords: Passwords,
    /// Which sign-in sessions still hold, kept briefly and forgotten on revocation.
    pub liveness: Liveness,
    /// Developers' entitlements, kept briefly and dropped on any change.
    pub entitlements: EntitlementCache,
    /// The payment provider; none in production without a key.
    pub payments: Option<Arc<dyn PaymentProvider>>,
    /// True once the gateway is shutting down: readiness fails, sockets close with 1001.
    pub draining: tokio::sync::watch::Sender<bool>,
    /// WebSockets open now: shutting down waits for them to close (they outlive the HTTP
    /// connections they were upgraded from, which is all the server itself waits for).
    pub open_sockets: tokio::sync::watch::Sender<usize>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
