//! What every request shares: the pool, configuration, keys and the event bus.

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::domain::entitlements::cache::EntitlementCache;
use crate::domain::licenses::guessing::GuessGuard;
use crate::domain::licenses::keys::LicenseKeys;
use crate::domain::licenses::validation::LicenseLookup;
use crate::events::EventBus;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub license_keys: Arc<LicenseKeys>,
    /// Finds a license by key digest for validation, batching concurrent lookups.
    pub license_lookup: LicenseLookup,
    pub bus: EventBus,
    /// Refuses sources that fail key validation too often.
    pub guesses: Arc<GuessGuard>,
    /// Developers' entitlements, kept briefly and dropped on any change.
    pub entitlements: EntitlementCache,
}
