//! Entitlements are read on every quota check, so each process keeps them for a short TTL.
//! Every change that affects them (an override, a license's state or plan, a plan) is
//! published on the event bus, and every process drops what it holds for that developer, so a
//! change made through one gateway is obeyed by all within the bus's delivery time.

use super::resolve::{Entitlements, resolve_many};
use crate::events::{DomainEvent, EventBus, RESYNC};
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

#[derive(Clone)]
pub struct EntitlementCache {
    entries: Cache<Uuid, Arc<Entitlements>>,
    /// Bumped by every invalidation, so a read that raced one is not cached.
    generation: Arc<AtomicU64>,
}

/// Whether an event may change some developer's entitlements, and whose.
enum Affects {
    Nobody,
    Developer(Uuid),
    Everyone,
}

fn affects(event: &DomainEvent) -> Affects {
    let area = event.kind.split('.').next().unwrap_or_default();
    match (area, event.developer_id) {
        ("plan", _) => Affects::Everyone,
        ("license" | "entitlement", Some(developer)) => Affects::Developer(developer),
        ("license" | "entitlement", None) => Affects::Everyone,
        _ if event.kind == RESYNC => Affects::Everyone,
        _ => Affects::Nobody,
    }
}

impl EntitlementCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            generation: Arc::default(),
        }
    }

    /// Follows the bus for as long as it runs, dropping what changes make stale: this process's
    /// own changes as they commit, other processes' as they arrive.
    pub fn follow(&self, bus: &EventBus) {
        let local = self.clone();
        bus.on_local_commit(Arc::new(move |event| local.invalidate(affects(event))));
        let cache = self.clone();
        let mut events = bus.subscribe();
        tokio::spawn(async move {
            loop {
                let reach = match events.recv().await {
                    Ok(event) => affects(&event),
                    // Missed events may have been invalidations: start over.
                    Err(RecvError::Lagged(_)) => Affects::Everyone,
                    Err(RecvError::Closed) => break,
                };
                cache.invalidate(reach);
            }
        });
    }

    /// Forgets everything this process holds.
    pub fn clear(&self) {
        self.invalidate(Affects::Everyone);
    }

    fn invalidate(&self, reach: Affects) {
        match reach {
            Affects::Nobody => return,
            Affects::Developer(id) => self.entries.invalidate(&id),
            Affects::Everyone => self.entries.invalidate_all(),
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Entitlements of these developers, from the cache where fresh, else in one batch.
    pub async fn get_many(
        &self,
        db: &DatabaseConnection,
        developer_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, Arc<Entitlements>>, DbErr> {
        let mut found = HashMap::with_capacity(developer_ids.len());
        let mut missing = Vec::new();
        for &id in developer_ids {
            match self.entries.get(&id) {
                Some(hit) if hit.stale_after().is_none_or(|t| t > now) => {
                    found.insert(id, hit);
                }
                _ => missing.push(id),
            }
        }
        if !missing.is_empty() {
            let generation = self.generation.load(Ordering::SeqCst);
            let resolved = resolve_many(db, &missing, now).await?;
            let unchanged = self.generation.load(Ordering::SeqCst) == generation;
            for (id, entitlements) in resolved {
                let entitlements = Arc::new(entitlements);
                if unchanged {
                    self.entries.insert(id, entitlements.clone());
                }
                found.insert(id, entitlements);
            }
        }
        Ok(found)
    }

    pub async fn get(
        &self,
        db: &DatabaseConnection,
        developer_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Arc<Entitlements>, DbErr> {
        self.get_many(db, &[developer_id], now)
            .await?
            .remove(&developer_id)
            .ok_or_else(|| DbErr::RecordNotFound("entitlements".into()))
    }
}
