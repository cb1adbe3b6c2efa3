//! Rate limits that hold across every gateway process on one database.
//!
//! Each process counts attempts in memory, so a check costs no statement; every counted attempt
//! is also signalled to the other processes (through the database's NOTIFY channel for signals),
//! which count it too. A client spreading its attempts over several gateways is refused at the
//! same rate as one that does not. A source past its rate is refused until it has room again,
//! and the refusal says when that is.

use crate::error::{AppError, AppResult};
use crate::events::EventBus;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;

/// Entries kept before expired refusals are swept.
const SWEEP_AT: usize = 100_000;

pub struct SharedLimiter {
    /// The signal that carries this limiter's counted sources to the other processes.
    signal: String,
    attempts: DefaultKeyedRateLimiter<String>,
    refused_until: DashMap<String, Instant>,
    clock: DefaultClock,
    /// Where attempts are shared; none for a limiter of this process alone.
    bus: Option<EventBus>,
}

impl SharedLimiter {
    /// `per_minute` attempts allowed per source, counted in this process alone.
    pub fn new(name: &str, per_minute: u32) -> Self {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            signal: format!("limit.{name}"),
            attempts: RateLimiter::keyed(quota),
            refused_until: DashMap::new(),
            clock: DefaultClock::default(),
            bus: None,
        }
    }

    /// A limiter that shares its counts with the other gateway processes through `bus` and
    /// counts theirs, for as long as the bus runs.
    pub fn shared(name: &str, per_minute: u32, bus: &EventBus) -> Arc<Self> {
        let limiter = Arc::new(Self {
            bus: Some(bus.clone()),
            ..Self::new(name, per_minute)
        });
        let follower = limiter.clone();
        let mut signals = bus.subscribe_signals();
        tokio::spawn(async move {
            loop {
                match signals.recv().await {
                    Ok(signal) if signal.kind == follower.signal => {
                        let sources: Vec<String> =
                            serde_json::from_value(signal.data.clone()).unwrap_or_default();
                        follower.count_here(sources);
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
        limiter
    }

    /// Whole seconds until every one of `sources` may try again; `None` when none is refused.
    pub fn refused(&self, sources: &[String]) -> Option<u64> {
        let now = Instant::now();
        sources
            .iter()
            .filter_map(|source| {
                self.refused_until
                    .get(source)
                    .map(|until| *until)
                    .filter(|until| *until > now)
            })
            .max()
            .map(|until| (until - now).as_secs().max(1))
    }

    /// Refuses (RATE_LIMITED, with when to retry) a source past its rate; counts the attempt
    /// otherwise.
    pub async fn attempt(&self, sources: Vec<String>) -> AppResult<()> {
        if let Some(retry_after) = self.refused(&sources) {
            return Err(AppError::RateLimited { retry_after });
        }
        self.count(sources.clone()).await;
        // The attempt that reaches the limit is refused too, not only those after it.
        match self.refused(&sources) {
            Some(retry_after) => Err(AppError::RateLimited { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts an attempt here and in the other processes; a source past its rate is refused
    /// until it has room again.
    pub async fn count(&self, sources: Vec<String>) {
        if sources.is_empty() {
            return;
        }
        self.count_here(sources.clone());
        if let Some(bus) = &self.bus {
            bus.signal(&self.signal, serde_json::json!(sources)).await;
        }
    }

    fn count_here(&self, sources: Vec<String>) {
        for source in sources {
            if let Err(not_until) = self.attempts.check_key(&source) {
                let wait: Duration = not_until.wait_time_from(self.clock.now());
                self.refused_until.insert(source, Instant::now() + wait);
            }
        }
        if self.refused_until.len() > SWEEP_AT {
            let now = Instant::now();
            self.refused_until.retain(|_, until| *until > now);
            self.attempts.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Vec<String> {
        vec![format!("ip:10.0.0.{n}")]
    }

    #[tokio::test]
    async fn a_source_past_its_rate_is_refused_with_when_to_retry_and_others_are_not() {
        let limiter = SharedLimiter::new("test", 3);
        for _ in 0..3 {
            assert!(limiter.attempt(ip(1)).await.is_ok());
        }
        match limiter.attempt(ip(1)).await {
            Err(AppError::RateLimited { retry_after }) => {
                assert!((1..=60).contains(&retry_after), "{retry_after}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(limiter.refused(&ip(1)).is_some());
        assert!(limiter.refused(&ip(2)).is_none(), "another source is not");
        assert!(limiter.attempt(ip(2)).await.is_ok());
    }

    #[tokio::test]
    async fn any_refused_source_refuses_the_attempt() {
        let limiter = SharedLimiter::new("test", 1);
        limiter.count(vec!["email:a@example.com".into()]).await;
        limiter.count(vec!["email:a@example.com".into()]).await;
        let both = vec!["ip:10.0.0.9".to_owned(), "email:a@example.com".to_owned()];
        assert!(limiter.attempt(both).await.is_err());
    }
}
