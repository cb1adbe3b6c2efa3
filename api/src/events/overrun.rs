//! A subscriber that falls further behind live delivery than the gateway keeps for it is not
//! held in memory or allowed to slow the others: its socket is closed (1013) and it resumes
//! from its last cursor. This is how a subscription tells its socket.

use std::sync::Arc;
use tokio::sync::Notify;

/// Shared by a socket and the subscriptions running on it.
#[derive(Clone, Default)]
pub struct Overrun(Arc<Notify>);

impl Overrun {
    /// A subscription on this socket has been overrun.
    pub fn report(&self) {
        self.0.notify_one();
    }

    /// Resolves once a subscription on this socket has been overrun.
    pub async fn reported(&self) {
        self.0.notified().await;
    }
}

/// What a subscription does when it falls behind.
#[derive(Clone)]
pub enum OnLag {
    /// Its events are a record the client keeps: its socket is closed, and the client resumes
    /// from the last cursor it received (without a socket, the stream ends).
    Close(Option<Overrun>),
    /// It only recomputes a standing on each event: it reads what it missed from the log.
    CatchUp,
}
