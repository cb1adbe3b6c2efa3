use super::jobs::JobName;
use super::runner::{self, Ran};
use crate::auth::Audience;
use crate::error::AppError;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_all};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use entity::{prelude::*, scheduler_jobs};
use sea_orm::{EntityTrait, QueryOrder};

/// The longest step `advanceTestClock` takes: ten years.
const MAX_ADVANCE_SECONDS: i64 = 10 * 365 * 24 * 3600;

/// A scheduled job and how its last run went (admins only).
pub struct SchedulerJob(scheduler_jobs::Model);

impl Guarded for SchedulerJob {
    type Row = scheduler_jobs::Model;

    fn audience(_: &scheduler_jobs::Model) -> Audience {
        Audience::Admins
    }

    fn wrap(row: scheduler_jobs::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl SchedulerJob {
    async fn name(&self) -> Result<JobName> {
        Ok(JobName::from_stored(&self.0.name)?)
    }
    /// When it is next due.
    async fn next_run_at(&self) -> DateTime<Utc> {
        self.0.next_run_at.with_timezone(&Utc)
    }
    /// Whether a gateway holds it now.
    async fn running(&self, ctx: &Context<'_>) -> Result<bool> {
        let now = ctx.actor()?.now;
        Ok(self
            .0
            .lease_until
            .is_some_and(|until| until.with_timezone(&Utc) > now))
    }
    async fn last_started_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_started_at.map(|t| t.with_timezone(&Utc))
    }
    async fn last_finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_finished_at.map(|t| t.with_timezone(&Utc))
    }
    async fn last_duration_ms(&self) -> Option<i64> {
        self.0.last_duration_ms
    }
    /// Rows the last run moved; none when it failed.
    async fn last_rows(&self) -> Option<i64> {
        self.0.last_rows
    }
    /// Why the last run failed; none when it succeeded.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// Runs so far, in every gateway.
    async fn runs(&self) -> i64 {
        self.0.runs
    }
}

/// One job run by `advanceTestClock`.
#[derive(SimpleObject)]
pub struct JobRun {
    job: JobName,
    /// Rows it moved; none when it failed.
    rows: Option<i64>,
    error: Option<String>,
}

impl From<Ran> for JobRun {
    fn from(ran: Ran) -> Self {
        let (rows, error) = match ran.outcome {
            Ok(rows) => (Some(i64::try_from(rows).unwrap_or(i64::MAX)), None),
            Err(error) => (None, Some(error)),
        };
        Self {
            job: ran.job,
            rows,
            error,
        }
    }
}

#[derive(SimpleObject)]
pub struct TestClockAdvance {
    /// This gateway's time after the step.
    now: DateTime<Utc>,
    /// The jobs run at the new time.
    ran: Vec<JobRun>,
}

#[derive(Default)]
pub struct SchedulerQuery;

#[Object]
impl SchedulerQuery {
    /// Every scheduled job (a fixed handful) and how its last run went. Admins only.
    async fn scheduler_jobs(&self, ctx: &Context<'_>) -> Result<Vec<SchedulerJob>> {
        let actor = ctx.actor()?;
        actor.require_admin()?;
        let rows = SchedulerJobs::find()
            .order_by_asc(scheduler_jobs::Column::Name)
            .all(&actor.app.db)
            .await
            .map_err(AppError::from)?;
        Ok(shown_all(actor, rows))
    }
}

#[derive(Default)]
pub struct SchedulerMutation;

#[Object]
impl SchedulerMutation {
    /// Moves this gateway's clock forward by `seconds` (1 to ten years) and runs every job at
    /// the new time: a sandbox walks through trial, grace and expiry without waiting. Admins
    /// only, and only where `TEST_CLOCK=true` (never in production).
    async fn advance_test_clock(
        &self,
        ctx: &Context<'_>,
        seconds: i64,
    ) -> Result<TestClockAdvance> {
        let actor = ctx.actor()?;
        actor.require_admin()?;
        let app = &actor.app;
        if !app.config.scheduler.test_clock {
            return Err(AppError::Forbidden("the test clock is off (TEST_CLOCK)").into());
        }
        if !(1..=MAX_ADVANCE_SECONDS).contains(&seconds) {
            return Err(
                AppError::validation("seconds", "must be 1 to 315360000 (ten years)").into(),
            );
        }
        app.clock.advance(Duration::seconds(seconds));
        let ran = runner::run_due(app, true).await;
        Ok(TestClockAdvance {
            now: app.clock.now(),
            ran: ran.into_iter().map(JobRun::from).collect(),
        })
    }
}
