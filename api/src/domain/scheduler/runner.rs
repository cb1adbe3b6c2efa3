//! The loop each gateway runs: every `SCHEDULER_TICK_SECONDS`, each job that is due and not
//! held by another gateway is claimed, run and recorded. A job that fails (or panics) is
//! recorded with its error and due again after its interval; the loop carries on.

use super::jobs::JobName;
use super::lease::{self, Outcome};
use crate::auth::Actor;
use crate::state::AppState;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What one job's run did, for whoever ran it by hand.
pub struct Ran {
    pub job: JobName,
    pub outcome: Outcome,
}

/// Starts this gateway's scheduler, unless `SCHEDULER_TICK_SECONDS` is 0.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    // The rows first, so that jobs can be listed and run by hand in every gateway.
    lease::ensure_rows(&state.db, state.clock.now())
        .await
        .map_err(|err| anyhow::anyhow!("scheduler jobs could not be set up: {err:?}"))?;
    let tick = state.config.scheduler.tick_seconds;
    if tick == 0 {
        tracing::info!("the scheduler is off in this gateway (SCHEDULER_TICK_SECONDS=0)");
        return Ok(());
    }
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            run_due(&state, false).await;
            tokio::time::sleep(Duration::from_secs(tick)).await;
        }
    });
    Ok(())
}

/// Runs each job this gateway can claim: those due, or every one not held elsewhere when
/// `force`d. Answers what ran.
pub async fn run_due(state: &AppState, force: bool) -> Vec<Ran> {
    // Each pass holds its leases under a name of its own.
    let holder = Uuid::now_v7();
    let mut ran = Vec::new();
    for &job in JobName::ALL {
        let now = state.clock.now();
        match lease::claim(&state.db, job, holder, now, force).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(job = job.as_str(), error = ?err, "scheduler could not claim a job");
                continue;
            }
        }
        let started = Instant::now();
        let actor = Actor::system(state);
        let outcome = match AssertUnwindSafe(job.run(&actor)).catch_unwind().await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(err)) => Err(err.message_for_operators()),
            Err(_) => Err("the job panicked".to_owned()),
        };
        match &outcome {
            Ok(rows) => tracing::info!(job = job.as_str(), rows, "scheduler job ran"),
            Err(error) => tracing::warn!(job = job.as_str(), %error, "scheduler job failed"),
        }
        let took = started.elapsed();
        if let Err(err) =
            lease::finish(&state.db, job, holder, state.clock.now(), took, &outcome).await
        {
            tracing::warn!(job = job.as_str(), error = ?err, "scheduler could not record a run");
        }
        ran.push(Ran { job, outcome });
    }
    ran
}
