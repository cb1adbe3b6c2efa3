//! Refusing key guessers: failed validations are counted per client IP and per key prefix,
//! and past the configured rate the source is refused for a while — before any lookup, so a
//! refused guess learns nothing, not even whether it was right.
//!
//! Each gateway process counts in memory, so the check costs no statement; every failure is
//! also signalled to the other processes on the database, which count it too. A guesser
//! spreading its attempts over several gateways is refused at the same rate as one that
//! does not.

use crate::events::EventBus;
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast::error::RecvError;

/// Entries kept before expired refusals are swept.
const SWEEP_AT: usize = 100_000;

/// The signal that carries one failed validation's sources to the other processes.
const FAILURE_SIGNAL: &str = "validation.failed";

pub struct GuessGuard {
    failures: DefaultKeyedRateLimiter<String>,
    refused_until: DashMap<String, Instant>,
    clock: DefaultClock,
    /// Where failures are shared; none for a guard of this process alone.
    bus: Option<EventBus>,
}

impl GuessGuard {
    /// `per_minute` failures allowed per IP and per key prefix, counted in this process alone.
    pub fn new(per_minute: u32) -> Self {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            failures: RateLimiter::keyed(quota),
            refused_until: DashMap::new(),
            clock: DefaultClock::default(),
            bus: None,
        }
    }

    /// A guard that shares its failures with the other gateway processes through `bus` and
    /// counts theirs, for as long as the bus runs.
    pub fn shared(per_minute: u32, bus: &EventBus) -> Arc<Self> {
        let guard = Arc::new(Self {
            bus: Some(bus.clone()),
            ..Self::new(per_minute)
        });
        let follower = guard.clone();
        let mut signals = bus.subscribe_signals();
        tokio::spawn(async move {
            loop {
                match signals.recv().await {
                    Ok(signal) if signal.kind == FAILURE_SIGNAL => {
                        let sources: Vec<String> =
                            serde_json::from_value(signal.data.clone()).unwrap_or_default();
                        follower.count(sources);
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
        guard
    }

    fn sources(ip: Option<&str>, key: &str) -> Vec<String> {
        let prefix: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(5)
            .collect();
        ip.map(|ip| format!("ip:{ip}"))
            .into_iter()
            .chain([format!("prefix:{}", prefix.to_ascii_uppercase())])
            .collect()
    }

    /// Whether this IP or key prefix is being refused right now.
    pub fn refused(&self, ip: Option<&str>, key: &str) -> bool {
        let now = Instant::now();
        Self::sources(ip, key).iter().any(|source| {
            self.refused_until
                .get(source)
                .is_some_and(|until| *until > now)
        })
    }

    /// Counts a failed validation here and in the other processes; a source past its rate is
    /// refused until it has room again.
    pub async fn record_failure(&self, ip: Option<&str>, key: &str) {
        let sources = Self::sources(ip, key);
        self.count(sources.clone());
        if let Some(bus) = &self.bus {
            bus.signal(FAILURE_SIGNAL, serde_json::json!(sources)).await;
        }
    }

    fn count(&self, sources: Vec<String>) {
        for source in sources {
            if let Err(not_until) = self.failures.check_key(&source) {
                let wait = not_until.wait_time_from(self.clock.now());
                self.refused_until.insert(source, Instant::now() + wait);
            }
        }
        if self.refused_until.len() > SWEEP_AT {
            let now = Instant::now();
            self.refused_until.retain(|_, until| *until > now);
            self.failures.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_source_past_its_rate_is_refused_and_others_are_not() {
        let guard = GuessGuard::new(3);
        for n in 0..3 {
            assert!(!guard.refused(Some("10.0.0.1"), &format!("K{n}AAA-BBBBB")));
            guard
                .record_failure(Some("10.0.0.1"), &format!("K{n}AAA-BBBBB"))
                .await;
        }
        guard.record_failure(Some("10.0.0.1"), "K9AAA-BBBBB").await;
        assert!(
            guard.refused(Some("10.0.0.1"), "ZZZZZ-ZZZZZ"),
            "the IP is refused"
        );
        assert!(
            !guard.refused(Some("10.0.0.2"), "ZZZZZ-ZZZZZ"),
            "another IP is not"
        );
    }

    #[tokio::test]
    async fn one_prefix_guessed_from_many_ips_is_refused() {
        let guard = GuessGuard::new(2);
        for n in 0..3 {
            guard
                .record_failure(Some(&format!("10.0.1.{n}")), "PRFXA-00000")
                .await;
        }
        assert!(guard.refused(Some("10.0.9.9"), "prfxa-11111"));
    }
}
