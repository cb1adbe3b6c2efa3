//! What a caller may spend: a budget of requests per minute for each class (reads: queries and
//! subscriptions; writes: mutations), in fixed one-minute windows, so that a client can be told
//! exactly what is left and when it renews (`RateLimit-Limit`, `RateLimit-Remaining`,
//! `RateLimit-Reset`). API tokens have one each; anonymous callers one per address.
//!
//! Shared across gateways the way the other limits are: each process counts in memory (a check
//! costs no statement) and signals every request it counted to the others through PostgreSQL's
//! NOTIFY channel, which count it too. PostgreSQL rather than Redis: it is already the one
//! store every gateway shares, and a budget needs no more than a signal a request.

use crate::events::EventBus;
use dashmap::DashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

const WINDOW_SECONDS: i64 = 60;

/// Budgets of API tokens, by token id.
pub type TokenBudgets = Budgets<Uuid>;

/// Budgets of anonymous callers, by address.
pub type AddressBudgets = Budgets<IpAddr>;

/// What a budget can be kept for: a key every gateway names alike.
pub trait Payer: Copy + Eq + Hash + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Copy + Eq + Hash + Serialize + DeserializeOwned + Send + Sync + 'static> Payer for T {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Class {
    Read,
    Write,
}

/// Where a token stands after a request: its budget this window, what is left, and the seconds
/// until the window renews.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
}

#[derive(Serialize, Deserialize)]
struct Spent<K> {
    payer: K,
    class: Class,
    window: i64,
}

pub struct Budgets<K> {
    reads: u32,
    writes: u32,
    spent: DashMap<(K, Class, i64), u32>,
    /// The signal that carries this kind of budget's spending to the other gateways.
    signal: &'static str,
    bus: Option<EventBus>,
}

impl<K: Payer> Budgets<K> {
    /// Budgets counted in this process alone.
    pub fn new(signal: &'static str, reads_per_minute: u32, writes_per_minute: u32) -> Self {
        Self {
            reads: reads_per_minute.max(1),
            writes: writes_per_minute.max(1),
            spent: DashMap::new(),
            signal,
            bus: None,
        }
    }

    /// Budgets shared with the other gateways through `bus` under `signal`, for as long as it
    /// runs.
    pub fn shared(
        signal: &'static str,
        reads_per_minute: u32,
        writes_per_minute: u32,
        bus: &EventBus,
    ) -> Arc<Self> {
        let budgets = Arc::new(Self {
            bus: Some(bus.clone()),
            ..Self::new(signal, reads_per_minute, writes_per_minute)
        });
        let follower = budgets.clone();
        let mut signals = bus.subscribe_signals();
        tokio::spawn(async move {
            loop {
                match signals.recv().await {
                    Ok(signal) if signal.kind == follower.signal => {
                        if let Ok(spent) = serde_json::from_value::<Spent<K>>(signal.data.clone()) {
                            follower.count(spent.payer, spent.class, spent.window);
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
        budgets
    }

    fn limit(&self, class: Class) -> u32 {
        match class {
            Class::Read => self.reads,
            Class::Write => self.writes,
        }
    }

    fn count(&self, payer: K, class: Class, window: i64) -> u32 {
        let mut entry = self.spent.entry((payer, class, window)).or_default();
        *entry += 1;
        *entry
    }

    /// Spends one request of `payer`'s `class` budget at `now` (seconds since the epoch):
    /// `Ok` with what is left, or `Err` with the standing once the budget is spent (the request
    /// is refused; `reset` is when to retry).
    pub async fn spend(&self, payer: K, class: Class, now: i64) -> Result<Standing, Standing> {
        let window = now.div_euclid(WINDOW_SECONDS);
        let limit = self.limit(class);
        let reset = (WINDOW_SECONDS - now.rem_euclid(WINDOW_SECONDS)) as u64;
        let spent = self.count(payer, class, window);
        if let Some(bus) = &self.bus {
            let data = serde_json::json!(Spent {
                payer,
                class,
                window
            });
            // The request does not wait for the other gateways to be told.
            let (bus, signal) = (bus.clone(), self.signal);
            tokio::spawn(async move { bus.signal(signal, data).await });
        }
        self.sweep(window);
        let standing = Standing {
            limit,
            remaining: limit.saturating_sub(spent),
            reset,
        };
        if spent > limit {
            Err(standing)
        } else {
            Ok(standing)
        }
    }

    /// Forgets windows that have passed, now and then.
    fn sweep(&self, window: i64) {
        if self.spent.len() > 10_000 {
            self.spent.retain(|(_, _, at), _| *at >= window - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_counts_down_refuses_past_its_limit_and_renews_with_the_window() {
        let budgets = TokenBudgets::new("budget.test", 2, 1);
        let token = Uuid::now_v7();
        let at = 6_000_015; // 15 s into a window
        let first = budgets.spend(token, Class::Read, at).await;
        assert_eq!(
            first,
            Ok(Standing {
                limit: 2,
                remaining: 1,
                reset: 45
            })
        );
        assert_eq!(
            budgets
                .spend(token, Class::Read, at)
                .await
                .map(|s| s.remaining),
            Ok(0)
        );
        assert!(budgets.spend(token, Class::Read, at + 1).await.is_err());
        // Writes are a budget of their own, and so is another token.
        assert!(budgets.spend(token, Class::Write, at).await.is_ok());
        assert!(budgets.spend(Uuid::now_v7(), Class::Read, at).await.is_ok());
        // The next window starts afresh.
        assert!(budgets.spend(token, Class::Read, at + 45).await.is_ok());
    }
}
