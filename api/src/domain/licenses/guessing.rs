//! Refusing key guessers: failed validations are counted per client IP and per key prefix,
//! and past the configured rate the source is refused for a while — before any lookup, so a
//! refused guess learns nothing, not even whether it was right.

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Instant;

/// Entries kept before expired refusals are swept.
const SWEEP_AT: usize = 100_000;

pub struct GuessGuard {
    failures: DefaultKeyedRateLimiter<String>,
    refused_until: DashMap<String, Instant>,
    clock: DefaultClock,
}

impl GuessGuard {
    /// `per_minute` failures allowed per IP and per key prefix.
    pub fn new(per_minute: u32) -> Self {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        Self {
            failures: RateLimiter::keyed(quota),
            refused_until: DashMap::new(),
            clock: DefaultClock::default(),
        }
    }

    fn sources(ip: Option<&str>, key: &str) -> [Option<String>; 2] {
        let prefix: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(5)
            .collect();
        [
            ip.map(|ip| format!("ip:{ip}")),
            Some(format!("prefix:{}", prefix.to_ascii_uppercase())),
        ]
    }

    /// Whether this IP or key prefix is being refused right now.
    pub fn refused(&self, ip: Option<&str>, key: &str) -> bool {
        let now = Instant::now();
        Self::sources(ip, key).iter().flatten().any(|source| {
            self.refused_until
                .get(source)
                .is_some_and(|until| *until > now)
        })
    }

    /// Counts a failed validation; a source past its rate is refused until it has room again.
    pub fn record_failure(&self, ip: Option<&str>, key: &str) {
        for source in Self::sources(ip, key).into_iter().flatten() {
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

    #[test]
    fn a_source_past_its_rate_is_refused_and_others_are_not() {
        let guard = GuessGuard::new(3);
        for n in 0..3 {
            assert!(!guard.refused(Some("10.0.0.1"), &format!("K{n}AAA-BBBBB")));
            guard.record_failure(Some("10.0.0.1"), &format!("K{n}AAA-BBBBB"));
        }
        guard.record_failure(Some("10.0.0.1"), "K9AAA-BBBBB");
        assert!(
            guard.refused(Some("10.0.0.1"), "ZZZZZ-ZZZZZ"),
            "the IP is refused"
        );
        assert!(
            !guard.refused(Some("10.0.0.2"), "ZZZZZ-ZZZZZ"),
            "another IP is not"
        );
    }

    #[test]
    fn one_prefix_guessed_from_many_ips_is_refused() {
        let guard = GuessGuard::new(2);
        for n in 0..3 {
            guard.record_failure(Some(&format!("10.0.1.{n}")), "PRFXA-00000");
        }
        assert!(guard.refused(Some("10.0.9.9"), "prfxa-11111"));
    }
}
