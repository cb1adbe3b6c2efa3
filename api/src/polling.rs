//! The loop an outbox worker (mail, webhooks) runs in each gateway: a pass over what is due,
//! then a wait for the poll interval or a wake-up from a local commit, whichever comes first.
//! A pass that fails or panics is logged and the next starts afresh, so an outage or one bad
//! row never stops the worker.

use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Spawns the loop running `pass` for the worker named `what` (as in "mail delivery").
pub fn spawn_worker<P, F, E>(what: &'static str, poll: Duration, wake: Arc<Notify>, pass: P)
where
    P: Fn() -> F + Send + 'static,
    F: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Debug,
{
    tokio::spawn(async move {
        loop {
            match AssertUnwindSafe(pass()).catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = ?err, "{what} could not read or write its outbox");
                }
                Err(_) => tracing::error!("{what} panicked; it carries on"),
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = wake.notified() => {}
            }
        }
    });
}
