//! The job rows. A gateway runs a job only after claiming its row: one conditional UPDATE that
//! succeeds only while the job is due and no other gateway's lease on it is live. The lease
//! outlasts any run; a gateway that stops mid-run leaves the job to the next claimant once it
//! runs out. Every change a job makes is idempotent, so a run repeated after a lost lease does
//! no harm.

use super::jobs::JobName;
use crate::error::AppResult;
use chrono::{DateTime, Duration, Utc};
use entity::{prelude::*, scheduler_jobs};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

/// How long a claimed job is left to its gateway.
const LEASE: Duration = Duration::minutes(10);

/// The longest error text kept on a job.
const MAX_ERROR_CHARS: usize = 500;

/// Writes a row for every job that has none, due at once.
pub async fn ensure_rows(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<()> {
    let rows = JobName::ALL.iter().map(|job| scheduler_jobs::ActiveModel {
        name: Set(job.as_str().to_owned()),
        next_run_at: Set(now.into()),
        runs: Set(0),
        ..Default::default()
    });
    SchedulerJobs::insert_many(rows)
        .on_conflict(
            OnConflict::column(scheduler_jobs::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Takes the job for `holder` if it is due (or `force`d) and not held; answers whether it did.
pub async fn claim(
    db: &DatabaseConnection,
    job: JobName,
    holder: Uuid,
    now: DateTime<Utc>,
    force: bool,
) -> AppResult<bool> {
    let free = Condition::any()
        .add(scheduler_jobs::Column::LeaseUntil.is_null())
        .add(scheduler_jobs::Column::LeaseUntil.lt(now));
    let mut claim = SchedulerJobs::update_many()
        .col_expr(scheduler_jobs::Column::LeaseUntil, Expr::value(now + LEASE))
        .col_expr(scheduler_jobs::Column::LeasedBy, Expr::value(holder))
        .col_expr(scheduler_jobs::Column::LastStartedAt, Expr::value(now))
        .filter(scheduler_jobs::Column::Name.eq(job.as_str()))
        .filter(free);
    if !force {
        claim = claim.filter(scheduler_jobs::Column::NextRunAt.lte(now));
    }
    Ok(claim.exec(db).await?.rows_affected == 1)
}

/// How a run went: rows moved, or why it failed.
pub type Outcome = Result<u64, String>;

/// Records the run and gives the job back, due again after its interval.
pub async fn finish(
    db: &DatabaseConnection,
    job: JobName,
    holder: Uuid,
    now: DateTime<Utc>,
    took: std::time::Duration,
    outcome: &Outcome,
) -> AppResult<()> {
    let next = now + Duration::from_std(job.every()).unwrap_or(Duration::minutes(1));
    let (rows, error) = match outcome {
        Ok(rows) => (Some(i64::try_from(*rows).unwrap_or(i64::MAX)), None),
        Err(error) => (
            None,
            Some(error.chars().take(MAX_ERROR_CHARS).collect::<String>()),
        ),
    };
    SchedulerJobs::update_many()
        .col_expr(
            scheduler_jobs::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            scheduler_jobs::Column::LeasedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(scheduler_jobs::Column::NextRunAt, Expr::value(next))
        .col_expr(scheduler_jobs::Column::LastFinishedAt, Expr::value(now))
        .col_expr(
            scheduler_jobs::Column::LastDurationMs,
            Expr::value(i64::try_from(took.as_millis()).unwrap_or(i64::MAX)),
        )
        .col_expr(scheduler_jobs::Column::LastRows, Expr::value(rows))
        .col_expr(scheduler_jobs::Column::LastError, Expr::value(error))
        .col_expr(
            scheduler_jobs::Column::Runs,
            Expr::col(scheduler_jobs::Column::Runs).add(1),
        )
        .filter(scheduler_jobs::Column::Name.eq(job.as_str()))
        .filter(scheduler_jobs::Column::LeasedBy.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}
