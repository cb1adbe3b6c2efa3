//! The delivery worker: takes due deliveries from the webhook outbox and posts them, signed,
//! retrying failures with exponential backoff and full jitter until the delivery's window ends.
//!
//! Several gateways may share one database, so a delivery is claimed before it is posted, the
//! way mail is (`mail/delivery.rs`): one statement picks due rows (on PostgreSQL `FOR UPDATE
//! SKIP LOCKED`), counts the attempt and moves its next attempt a lease ahead, so no other
//! worker finds it due meanwhile; the outcome is written only while the row is still the one
//! claimed. A gateway that stops mid-post leaves the delivery to be tried again when the lease
//! runs out: deliveries are at least once, and receivers drop repeats by `webhook-id`.
//!
//! An endpoint that has failed without a success for `WEBHOOK_DISABLE_AFTER_SECONDS` is
//! disabled, its waiting deliveries given up, its owner mailed, and `webhook_endpoint.disabled`
//! published (to the owner's other endpoints, among others).

use super::model::{self, ENDPOINT_DISABLED, WebhookDeliveryStatus, WebhookDisabledReason};
use super::service::{self, QUEUED};
use super::signature;
use super::target::{self, CheckedResolver};
use crate::auth::Actor;
use crate::config::WebhooksConfig;
use crate::domain::mail::model::{MailKind, OutgoingMail};
use crate::domain::mail::service as mail;
use crate::error::AppResult;
use crate::events::{Change, Event, UnitOfWork};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{prelude::*, webhook_attempts, webhook_deliveries, webhook_endpoints};
use futures_util::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Set, Statement, TransactionTrait, UpdateMany, Value,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use uuid::Uuid;

/// Deliveries claimed at once by one worker, posted side by side.
const BATCH: u64 = 16;

/// How long one attempt may take, connecting included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a claimed delivery is left to its worker before another may take it: well past
/// an attempt's timeout.
const LEASE: Duration = Duration::from_secs(60);

/// The longest wait between two attempts, unless the base is longer.
const MAX_BACKOFF: Duration = Duration::from_secs(12 * 3600);

/// The longest error text kept on a delivery.
const MAX_ERROR_CHARS: usize = 300;

/// Starts this gateway's delivery worker on its own database connection, unless
/// `WEBHOOK_POLL_MILLIS` is 0. It looks for due deliveries every poll interval and at once when
/// this process commits an event endpoints may receive.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config.webhooks;
    if config.poll_millis == 0 {
        tracing::info!("webhook delivery is off in this gateway (WEBHOOK_POLL_MILLIS=0)");
        return Ok(());
    }
    let db = crate::db::connect_background(&state.config.database, &state.db).await?;
    let wake = Arc::new(Notify::new());
    let waker = wake.clone();
    state.bus.on_local_commit(Arc::new(move |event| {
        if event.kind == QUEUED || model::deliverable(&event.kind) {
            waker.notify_one();
        }
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent("licensing-gateway-webhooks")
        .dns_resolver(Arc::new(CheckedResolver {
            allow_private: config.allow_private_targets,
        }))
        .build()?;
    let worker = Worker {
        db,
        state: state.clone(),
        client,
        schedule: Schedule::from_config(config),
    };
    let poll = Duration::from_millis(config.poll_millis);
    let worker = Arc::new(worker);
    crate::polling::spawn_worker("webhook delivery", poll, wake, move || {
        let worker = worker.clone();
        async move { worker.deliver_due().await }
    });
    Ok(())
}

/// When a failed delivery is tried again, and when it is given up.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// The longest wait after the first failure, doubled after each further one.
    pub base: Duration,
    /// How long an endpoint may fail before it is disabled.
    pub disable_after: Duration,
}

impl Schedule {
    pub fn from_config(config: &WebhooksConfig) -> Self {
        Self {
            base: Duration::from_secs(config.retry_base_seconds),
            disable_after: Duration::from_secs(config.disable_after_seconds),
        }
    }

    /// The wait after `attempts` failed ones: drawn by `jitter` (0 to 1) from nothing up to
    /// `base` doubled for each failure after the first, at most 12 hours (full jitter, so
    /// deliveries that failed together, say while a receiver was down, do not all come back
    /// together).
    pub fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        let ceiling = self
            .base
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF.max(self.base));
        ceiling.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// What became of one attempt.
struct Attempt {
    status_code: Option<u16>,
    latency_ms: Option<i32>,
    /// Why it failed, in our words; `None` when it succeeded.
    error: Option<String>,
}

struct Worker {
    db: DatabaseConnection,
    state: AppState,
    client: reqwest::Client,
    schedule: Schedule,
}

impl Worker {
    /// Delivers until nothing is due.
    async fn deliver_due(&self) -> AppResult<()> {
        loop {
            let claimed = claim(&self.db, self.state.clock.now(), BATCH).await?;
            let full = claimed.len() as u64 == BATCH;
            for outcome in join_all(claimed.iter().map(|row| self.deliver(row))).await {
                outcome?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Posts one claimed delivery and records what became of it.
    async fn deliver(&self, row: &webhook_deliveries::Model) -> AppResult<()> {
        let Some(endpoint) = WebhookEndpoints::find_by_id(row.endpoint_id)
            .one(&self.db)
            .await?
        else {
            return Ok(()); // deleted since: its deliveries went with it
        };
        let attempt = self.attempt(row, &endpoint).await;
        let now = self.state.clock.now();
        let claimed = WebhookDeliveries::update_many()
            .filter(webhook_deliveries::Column::Id.eq(row.id))
            .filter(webhook_deliveries::Column::Status.is_in(waiting()))
            .filter(webhook_deliveries::Column::Attempts.eq(row.attempts))
            .col_expr(
                webhook_deliveries::Column::LastAttemptAt,
                Expr::value(now.fixed_offset()),
            )
            .col_expr(
                webhook_deliveries::Column::LastStatusCode,
                Expr::value(attempt.status_code.map(i32::from)),
            )
            .col_expr(
                webhook_deliveries::Column::LastLatencyMs,
                Expr::value(attempt.latency_ms),
            )
            .col_expr(
                webhook_deliveries::Column::LastError,
                Expr::value(attempt.error.clone()),
            );
        let no_time = Expr::value(Value::ChronoDateTimeWithTimeZone(None));
        let Some(error) = attempt.error.clone() else {
            tracing::debug!(delivery = %row.id, attempts = row.attempts, "webhook delivered");
            let delivered = claimed
                .col_expr(
                    webhook_deliveries::Column::Status,
                    Expr::value(WebhookDeliveryStatus::Succeeded.as_str()),
                )
                .col_expr(webhook_deliveries::Column::NextAttemptAt, no_time.clone())
                .col_expr(
                    webhook_deliveries::Column::DeliveredAt,
                    Expr::value(now.fixed_offset()),
                );
            self.record(row, &attempt, now, delivered).await?;
            WebhookEndpoints::update_many()
                .col_expr(webhook_endpoints::Column::FailingSince, no_time.clone())
                .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
                .filter(webhook_endpoints::Column::FailingSince.is_not_null())
                .exec(&self.db)
                .await?;
            return Ok(());
        };
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let wait = self.schedule.backoff(attempts, rand::random::<f64>());
        let next = later(now, wait);
        let gives_up = next > row.retry_until.with_timezone(&Utc);
        tracing::info!(
            delivery = %row.id,
            endpoint = %endpoint.id,
            attempts = row.attempts,
            gives_up,
            error = %error,
            "webhook not delivered"
        );
        let update = if gives_up {
            claimed
                .col_expr(
                    webhook_deliveries::Column::Status,
                    Expr::value(WebhookDeliveryStatus::Dead.as_str()),
                )
                .col_expr(webhook_deliveries::Column::NextAttemptAt, no_time.clone())
        } else {
            claimed
                .col_expr(
                    webhook_deliveries::Column::Status,
                    Expr::value(WebhookDeliveryStatus::Failed.as_str()),
                )
                .col_expr(
                    webhook_deliveries::Column::NextAttemptAt,
                    Expr::value(next.fixed_offset()),
                )
        };
        self.record(row, &attempt, now, update).await?;
        WebhookEndpoints::update_many()
            .col_expr(
                webhook_endpoints::Column::FailingSince,
                Expr::value(now.fixed_offset()),
            )
            .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoints::Column::FailingSince.is_null())
            .exec(&self.db)
            .await?;
        let failing_since = endpoint
            .failing_since
            .map_or(now, |at| at.with_timezone(&Utc));
        let cutoff = earlier(now, self.schedule.disable_after);
        if endpoint.enabled && failing_since <= cutoff {
            self.disable(&endpoint, cutoff).await?;
        }
        Ok(())
    }

    /// Writes an attempt's outcome on its delivery (`update`, made only while the delivery is
    /// still the one this worker claimed) and adds the attempt to the delivery's history, in
    /// one transaction. A worker whose lease ran out writes neither: the delivery is another
    /// worker's by then, and that worker records its own attempt.
    async fn record(
        &self,
        row: &webhook_deliveries::Model,
        attempt: &Attempt,
        now: DateTime<Utc>,
        update: UpdateMany<WebhookDeliveries>,
    ) -> AppResult<()> {
        let txn = self.db.begin().await?;
        if update.exec(&txn).await?.rows_affected == 0 {
            return Ok(()); // not ours any more: the transaction ends unused
        }
        webhook_attempts::ActiveModel {
            id: Set(Uuid::now_v7()),
            delivery_id: Set(row.id),
            number: Set(row.attempts),
            attempted_at: Set(now.fixed_offset()),
            status_code: Set(attempt.status_code.map(i32::from)),
            latency_ms: Set(attempt.latency_ms),
            error: Set(attempt.error.clone()),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// One POST of the delivery, signed with the endpoint's secret, to an address that passes
    /// the target rule now.
    async fn attempt(
        &self,
        row: &webhook_deliveries::Model,
        endpoint: &webhook_endpoints::Model,
    ) -> Attempt {
        let failed = |error: String| Attempt {
            status_code: None,
            latency_ms: None,
            error: Some(error),
        };
        let allow_private = self.state.config.webhooks.allow_private_targets;
        let url = match target::check(&endpoint.url, allow_private).await {
            Ok(url) => url,
            Err(refused) => return failed(refused.reason().to_owned()),
        };
        let body = match serde_json::to_vec(&row.payload) {
            Ok(body) => body,
            Err(_) => return failed("the event could not be written as JSON".to_owned()),
        };
        let secret = signature::secret_bytes(
            &self.state.config.auth.license_key_secret,
            &endpoint.secret_seed,
        );
        let id = model::message_id(row.event_id);
        let timestamp = self.state.clock.now().timestamp();
        let signed = signature::signature(&secret, &id, timestamp, &body);
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body)
            .send()
            .await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        match sent {
            Ok(response) => {
                let status = response.status();
                Attempt {
                    status_code: Some(status.as_u16()),
                    latency_ms: Some(latency_ms),
                    error: (!status.is_success()).then(|| {
                        if status.is_redirection() {
                            format!(
                                "answered HTTP {} (redirects are not followed)",
                                status.as_u16()
                            )
                        } else {
                            format!("answered HTTP {}", status.as_u16())
                        }
                    }),
                }
            }
            Err(err) => Attempt {
                status_code: None,
                latency_ms: Some(latency_ms),
                error: Some(described(err)),
            },
        }
    }

    /// Disables an endpoint that has failed since before `cutoff`, in one unit of work: its
    /// waiting deliveries given up, the change audited as the platform's, the event published
    /// and its owner mailed. Nothing, when another worker did it first or it has recovered.
    async fn disable(
        &self,
        endpoint: &webhook_endpoints::Model,
        cutoff: DateTime<Utc>,
    ) -> AppResult<()> {
        let actor = Actor::system(&self.state);
        let now = actor.now;
        let mut uow = UnitOfWork::begin(&actor).await?;
        let disabled = WebhookEndpoints::update_many()
            .col_expr(webhook_endpoints::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoints::Column::DisabledAt,
                Expr::value(now.fixed_offset()),
            )
            .col_expr(
                webhook_endpoints::Column::DisabledReason,
                Expr::value(WebhookDisabledReason::Failing.as_str()),
            )
            .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoints::Column::Enabled.eq(true))
            .filter(webhook_endpoints::Column::FailingSince.lte(cutoff.fixed_offset()))
            .exec(&*uow)
            .await?;
        if disabled.rows_affected == 0 {
            return Ok(());
        }
        let why = "the endpoint was disabled after failing for too long";
        service::give_up_waiting(&*uow, endpoint.id, why).await?;
        let host = target::parse(&endpoint.url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        let data = json!({
            "endpointId": endpoint.id,
            "host": host,
            "reason": WebhookDisabledReason::Failing.as_str(),
        });
        uow.record(
            Change::new(ENDPOINT_DISABLED, "webhook_endpoint", endpoint.id)
                .owner(endpoint.owner_id)
                .metadata(data.clone())
                .by_platform()
                .publish(Event {
                    kind: ENDPOINT_DISABLED.to_owned(),
                    entity_id: endpoint.id,
                    developer_id: Some(endpoint.owner_id),
                    data,
                }),
        )
        .await?;
        if let Some(owner) = Users::find_by_id(endpoint.owner_id).one(&*uow).await? {
            let body = format!(
                "Your webhook endpoint at {host} (id {id}) has failed every delivery for too long, \
                 so it was disabled and the deliveries waiting for it were given up.\n\n\
                 Once it answers again, turn it back on (updateWebhookEndpoint with enabled: true), \
                 try it (testWebhookEndpoint) and send again what it missed (resendWebhook).",
                id = endpoint.id,
            );
            let notice = OutgoingMail::new(
                MailKind::WebhookEndpointDisabled,
                owner.email,
                "A webhook endpoint was disabled",
                body,
            );
            mail::queue(&mut uow, notice).await?;
        }
        uow.commit().await?;
        tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after failing for too long");
        Ok(())
    }
}

fn waiting() -> [&'static str; 2] {
    [
        WebhookDeliveryStatus::Pending.as_str(),
        WebhookDeliveryStatus::Failed.as_str(),
    ]
}

/// A failed request in words safe to keep and show: what went wrong and its causes, without
/// the URL (its query may carry the receiver's token).
fn described(err: reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut text = what.to_owned();
    let err = err.without_url();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect()
}

/// Claims up to `limit` waiting deliveries due at `now`, soonest first: counts the attempt and
/// moves each one's next attempt a lease ahead, in one statement. Answers the claimed rows.
/// (A materialized CTE, so PostgreSQL picks the rows once; see `mail/delivery.rs`.)
async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<webhook_deliveries::Model>, DbErr> {
    let backend = db.get_database_backend();
    let (now_at, limit_at, lease_at, lock) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3", " FOR UPDATE SKIP LOCKED"),
        // SQLite has no row locks and needs none: it runs one writer at a time.
        _ => ("?1", "?2", "?3", ""),
    };
    let [pending, failed] = waiting();
    let sql = format!(
        "WITH due AS MATERIALIZED ( \
             SELECT id FROM webhook_deliveries \
             WHERE status IN ('{pending}', '{failed}') AND next_attempt_at <= {now_at} \
             ORDER BY next_attempt_at, id LIMIT {limit_at}{lock}) \
         UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = {lease_at} \
         WHERE id IN (SELECT id FROM due) \
           AND status IN ('{pending}', '{failed}') AND next_attempt_at <= {now_at} \
         RETURNING *"
    );
    let values: [Value; 3] = [
        now.fixed_offset().into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
        later(now, LEASE).fixed_offset().into(),
    ];
    let statement = Statement::from_sql_and_values(backend, sql, values);
    WebhookDeliveries::find()
        .from_raw_sql(statement)
        .all(db)
        .await
}

/// `now` plus `wait`, or an hour on if that cannot be told.
fn later(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(now + chrono::Duration::hours(1))
}

/// `now` less `span`, or `now` if that cannot be told.
fn earlier(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| now.checked_sub_signed(span))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(base_seconds: u64) -> Schedule {
        Schedule {
            base: Duration::from_secs(base_seconds),
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }

    #[test]
    fn ceilings_double_up_to_twelve_hours_and_jitter_draws_below_them() {
        let s = schedule(30);
        let ceilings: Vec<u64> = (1..=13).map(|n| s.backoff(n, 1.0).as_secs()).collect();
        assert_eq!(
            ceilings,
            [
                30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 43200, 43200
            ]
        );
        assert_eq!(s.backoff(u32::MAX, 1.0), MAX_BACKOFF);
        assert_eq!(s.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(s.backoff(3, 0.5), Duration::from_secs(60));
        for jitter in [-1.0, 0.3, 7.0] {
            assert!(s.backoff(4, jitter) <= Duration::from_secs(240));
        }
    }

    #[test]
    fn three_days_of_full_ceilings_take_about_fifteen_attempts() {
        let s = schedule(30);
        let (mut spent, mut attempts) = (Duration::ZERO, 0);
        while spent < Duration::from_secs(3 * 86_400) {
            attempts += 1;
            spent += s.backoff(attempts, 1.0);
        }
        assert!((14..=17).contains(&attempts), "{attempts}");
    }
}
