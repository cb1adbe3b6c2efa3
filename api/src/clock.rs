//! The one source of the current time. Requests read it once, at the edge, into their actor;
//! background work (loaders, lookup lanes) reads it where it runs. It can be moved forward, so
//! that time-driven rules can be tested without waiting.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Default)]
pub struct Clock {
    /// How far this clock runs ahead of the system's, in milliseconds.
    ahead_millis: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let ahead = self.ahead_millis.load(Ordering::Relaxed);
        let now = Utc::now();
        if ahead == 0 {
            return now;
        }
        now.checked_add_signed(Duration::milliseconds(ahead))
            .unwrap_or(now)
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: Duration) {
        self.ahead_millis
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_runs_ahead_in_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.advance(Duration::days(3));
        let gap = copy.now() - Utc::now();
        assert!(gap > Duration::days(3) - Duration::seconds(5), "{gap}");
        assert!(gap <= Duration::days(3), "{gap}");
    }
}
