//! Whether a session still holds. Every request with an access token asks; the answer is kept
//! for a few seconds so a busy client costs one indexed lookup per interval, and every gateway
//! forgets it the moment a session is revoked (the revoking gateway at once, the others when
//! the signal reaches them), so logging out takes effect at once.

use crate::error::AppResult;
use crate::events::EventBus;
use chrono::{DateTime, Utc};
use entity::{prelude::*, sessions};
use moka::sync::Cache;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

/// The signal that carries revoked sessions to the other gateways.
pub const REVOKED_SIGNAL: &str = "session.revoked";

/// How long a gateway may answer from memory that a session holds, should a signal be lost.
const KEPT_FOR: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Liveness {
    alive: Cache<Uuid, ()>,
    /// Sessions ended here or on another gateway, as they end: open sockets close on them.
    ended: broadcast::Sender<Arc<[Uuid]>>,
}

impl Liveness {
    pub fn new() -> Self {
        Self {
            alive: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(KEPT_FOR)
                .build(),
            ended: broadcast::channel(256).0,
        }
    }

    /// Sessions as they end, for whoever holds something open on one.
    pub fn endings(&self) -> broadcast::Receiver<Arc<[Uuid]>> {
        self.ended.subscribe()
    }

    /// Forgets sessions revoked on other gateways as their signals arrive.
    pub fn follow(&self, bus: &EventBus) {
        let alive = self.alive.clone();
        let ended = self.ended.clone();
        let mut signals = bus.subscribe_signals();
        tokio::spawn(async move {
            loop {
                match signals.recv().await {
                    Ok(signal) if signal.kind == REVOKED_SIGNAL => {
                        let families: Vec<Uuid> =
                            serde_json::from_value(signal.data.clone()).unwrap_or_default();
                        for family in &families {
                            alive.invalidate(family);
                        }
                        let _ = ended.send(families.into());
                    }
                    // A lost signal may hide a revocation: start over.
                    Err(RecvError::Lagged(_)) => alive.invalidate_all(),
                    Ok(_) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    /// Whether the session `family` still holds: not revoked, and its newest refresh token not
    /// past its expiry.
    pub async fn holds(
        &self,
        db: &DatabaseConnection,
        family: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<bool> {
        if self.alive.contains_key(&family) {
            return Ok(true);
        }
        let live = Sessions::find()
            .filter(sessions::Column::FamilyId.eq(family))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now.fixed_offset()))
            .count(db)
            .await?
            > 0;
        if live {
            self.alive.insert(family, ());
        }
        Ok(live)
    }

    /// Takes note of a session this gateway just opened.
    pub fn opened(&self, family: Uuid) {
        self.alive.insert(family, ());
    }

    /// Forgets sessions revoked here, here and on every other gateway. Any other credential
    /// that ends (a license's key, an instance token) is announced the same way, by its id, so
    /// the sockets opened with it close everywhere.
    pub async fn forget(&self, bus: &EventBus, families: &[Uuid]) {
        for family in families {
            self.alive.invalidate(family);
        }
        let _ = self.ended.send(families.into());
        bus.signal(REVOKED_SIGNAL, serde_json::json!(families))
            .await;
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Self::new()
    }
}
