//! The delivery worker: takes due mail from the outbox and hands it to the mailer, retrying
//! failures with exponential backoff and jitter.
//!
//! Several gateways may share one database, so a mail is claimed before it is sent: one short
//! statement picks due pending mail (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers take different rows and never wait on each other), counts the attempt and moves
//! its `next_attempt_at` a lease ahead, so no other worker finds it due while it is being
//! sent. The outcome is written only while the row is still the one claimed (pending, same
//! attempt count): a worker that outlived its lease cannot overwrite a newer attempt. A
//! gateway that stops mid-send leaves the mail to be retried when the lease runs out, so a
//! mail goes out at least once, and twice only when a gateway stops (or stalls past the lease)
//! between the server taking it and the row saying so.

use super::mailer::{self, Letter, Mailer, Undelivered};
use super::model::{MailStatus, without_token};
use super::service::QUEUED;
use crate::clock::Clock;
use crate::config::{AppEnv, MailConfig};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{mail_outbox, prelude::*};
use futures_util::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, Statement, Value,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Mail claimed at once by one worker, sent side by side.
const BATCH: u64 = 8;

/// How long a claimed mail is left to its worker before another may take it: well past the
/// longest conversation with a mail server.
const LEASE: Duration = Duration::from_secs(300);

/// The longest wait between two attempts, unless `MAIL_RETRY_SECONDS` is longer.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The longest error text kept on a mail.
const MAX_ERROR_CHARS: usize = 500;

/// Starts this gateway's delivery worker on its own database connection, unless
/// `MAIL_POLL_SECONDS` is 0. It looks for due mail every poll interval and at once when this
/// process commits a queued mail.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config.mail;
    if config.poll_seconds == 0 {
        tracing::info!("mail delivery is off in this gateway (MAIL_POLL_SECONDS=0)");
        return Ok(());
    }
    let mailer = mailer::from_config(config)?;
    if mailer.delivered() == MailStatus::Logged {
        let note = "SMTP_URL is unset: mail is logged without its links' tokens, not sent";
        if state.config.env == AppEnv::Production {
            tracing::warn!("{note}");
        } else {
            tracing::info!("{note}");
        }
    }
    let db = crate::db::connect_background(&state.config.database, &state.db).await?;
    let wake = Arc::new(Notify::new());
    let waker = wake.clone();
    state.bus.on_local_commit(Arc::new(move |event| {
        if event.kind == QUEUED {
            waker.notify_one();
        }
    }));
    let worker = Worker {
        db,
        clock: state.clock.clone(),
        mailer,
        schedule: Schedule::from_config(config),
    };
    let poll = Duration::from_secs(config.poll_seconds);
    let worker = Arc::new(worker);
    crate::polling::spawn_worker("mail delivery", poll, wake, move || {
        let worker = worker.clone();
        async move { worker.deliver_due().await }
    });
    Ok(())
}

/// When a failed mail is tried again, and when it is given up.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub max_attempts: u32,
    /// The wait after the first failure, doubled after each further one.
    pub base: Duration,
}

impl Schedule {
    pub fn from_config(config: &MailConfig) -> Self {
        Self {
            max_attempts: config.max_attempts,
            base: Duration::from_secs(config.retry_seconds),
        }
    }

    /// The wait after `attempts` failed ones: `base` doubled for each failure after the first,
    /// at most an hour (or `base`, if that is longer), less up to half of it by `jitter`
    /// (from 0 to 1), so mail that failed together is not retried together.
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        let full = self
            .base
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF.max(self.base));
        full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
    }
}

struct Worker {
    db: DatabaseConnection,
    clock: Clock,
    mailer: Arc<dyn Mailer>,
    schedule: Schedule,
}

impl Worker {
    /// Delivers mail until none is due.
    async fn deliver_due(&self) -> Result<(), DbErr> {
        loop {
            let claimed = claim(&self.db, self.clock.now(), BATCH).await?;
            let full = claimed.len() as u64 == BATCH;
            for outcome in join_all(claimed.iter().map(|row| self.deliver(row))).await {
                outcome?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Sends one claimed mail and records what became of it.
    async fn deliver(&self, row: &mail_outbox::Model) -> Result<(), DbErr> {
        let outcome = match Letter::from_row(row) {
            Some(letter) => tokio::time::timeout(LEASE / 2, self.mailer.deliver(&letter))
                .await
                .unwrap_or_else(|_| {
                    Err(Undelivered {
                        reason: "the mail server took too long".into(),
                        permanent: false,
                    })
                }),
            None => Err(Undelivered {
                reason:
                    "the mail can no longer be built (unknown kind, or its link's token is gone)"
                        .into(),
                permanent: true,
            }),
        };
        let now = self.clock.now();
        let claimed = MailOutbox::update_many()
            .filter(mail_outbox::Column::Id.eq(row.id))
            .filter(mail_outbox::Column::Status.eq(MailStatus::Pending.as_str()))
            .filter(mail_outbox::Column::Attempts.eq(row.attempts));
        let no_token = Expr::value(Value::String(None));
        let update = match outcome {
            Ok(()) => {
                tracing::debug!(mail = %row.id, attempts = row.attempts, "mail delivered");
                claimed
                    .col_expr(
                        mail_outbox::Column::Status,
                        Expr::value(self.mailer.delivered().as_str()),
                    )
                    .col_expr(mail_outbox::Column::SentAt, Expr::value(now.fixed_offset()))
                    .col_expr(mail_outbox::Column::LinkToken, no_token)
            }
            Err(undelivered) => {
                let error = kept_error(row, &undelivered.reason);
                let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                let gives_up = undelivered.permanent || attempts >= self.schedule.max_attempts;
                tracing::warn!(
                    mail = %row.id,
                    attempts = row.attempts,
                    gives_up,
                    error = %error,
                    "mail not delivered"
                );
                let claimed = claimed.col_expr(mail_outbox::Column::LastError, Expr::value(error));
                if gives_up {
                    claimed
                        .col_expr(
                            mail_outbox::Column::Status,
                            Expr::value(MailStatus::Failed.as_str()),
                        )
                        .col_expr(mail_outbox::Column::LinkToken, no_token)
                } else {
                    let wait = self.schedule.backoff(attempts, rand::random::<f64>());
                    claimed.col_expr(
                        mail_outbox::Column::NextAttemptAt,
                        Expr::value(later(now, wait).fixed_offset()),
                    )
                }
            }
        };
        // Where no row matches, the lease ran out and another worker has taken the mail since.
        update.exec(&self.db).await.map(drop)
    }
}

/// Claims up to `limit` pending mail due at `now`, oldest first: counts the attempt and moves
/// each one's next attempt a lease ahead, in one statement. Answers the claimed rows.
///
/// The due rows are chosen once, in a materialized CTE: as a plain `IN (SELECT ... LIMIT n)`
/// PostgreSQL may rescan the subquery for each row it updates and claim more than `limit`.
async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    let backend = db.get_database_backend();
    let (now_at, limit_at, lease_at, lock) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3", " FOR UPDATE SKIP LOCKED"),
        // SQLite has no row locks and needs none: it runs one writer at a time.
        _ => ("?1", "?2", "?3", ""),
    };
    let pending = MailStatus::Pending.as_str();
    let sql = format!(
        "WITH due AS MATERIALIZED ( \
             SELECT id FROM mail_outbox \
             WHERE status = '{pending}' AND next_attempt_at <= {now_at} \
             ORDER BY next_attempt_at, id LIMIT {limit_at}{lock}) \
         UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = {lease_at} \
         WHERE id IN (SELECT id FROM due) \
           AND status = '{pending}' AND next_attempt_at <= {now_at} \
         RETURNING *"
    );
    let values: [Value; 3] = [
        now.fixed_offset().into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
        later(now, LEASE).fixed_offset().into(),
    ];
    let statement = Statement::from_sql_and_values(backend, sql, values);
    MailOutbox::find().from_raw_sql(statement).all(db).await
}

/// `now` plus `wait`, or an hour on if that cannot be told.
fn later(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(now + chrono::Duration::hours(1))
}

/// What is kept of a delivery error: one line, bounded, the link's token `[hidden]`.
fn kept_error(row: &mail_outbox::Model, reason: &str) -> String {
    let line: String = without_token(row, reason)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect();
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(base_seconds: u64) -> Schedule {
        Schedule {
            max_attempts: 8,
            base: Duration::from_secs(base_seconds),
        }
    }

    #[test]
    fn waits_double_from_a_minute_up_to_an_hour() {
        let minutes: Vec<u64> = (1..=9)
            .map(|attempts| schedule(60).backoff(attempts, 0.0).as_secs() / 60)
            .collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(
            schedule(60).backoff(u32::MAX, 0.0),
            Duration::from_secs(3600)
        );
        assert_eq!(schedule(7200).backoff(3, 0.0), Duration::from_secs(7200));
    }

    #[test]
    fn jitter_takes_off_up_to_half() {
        let s = schedule(60);
        assert_eq!(s.backoff(1, 1.0), Duration::from_secs(30));
        assert_eq!(s.backoff(2, 0.5), Duration::from_secs(90));
        for jitter in [0.0, 0.3, 0.99, 1.0, 7.0, -1.0] {
            let wait = s.backoff(3, jitter);
            assert!(wait >= Duration::from_secs(120) && wait <= Duration::from_secs(240));
        }
    }

    #[test]
    fn a_kept_error_is_one_bounded_line_without_the_token() {
        let now = Utc::now().into();
        let row = mail_outbox::Model {
            id: uuid::Uuid::now_v7(),
            kind: "password_reset".into(),
            recipient: "ada@example.com".into(),
            subject: "Reset".into(),
            body_text: "{link}".into(),
            link: Some("http://127.0.0.1:8080/reset-password".into()),
            link_token: Some("tok_0123456789abcdef".into()),
            status: "pending".into(),
            attempts: 1,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        let reason = format!(
            "transient error (451): rejected\r\n?token=tok_0123456789abcdef {}",
            "x".repeat(1000)
        );
        let kept = kept_error(&row, &reason);
        assert!(!kept.contains("tok_0123456789abcdef"), "{kept}");
        assert!(kept.contains("[hidden]"));
        assert!(!kept.contains('\n'));
        assert!(kept.chars().count() <= MAX_ERROR_CHARS);
    }
}
