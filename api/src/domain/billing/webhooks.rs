//! Receiving payment webhooks. An event is stored once per provider event id, in the same
//! transaction as its effects: a repeat, even a concurrent one, finds the row and does nothing.
//! A handler that fails leaves the event as a dead letter (`failed`, with its error), retried
//! with backoff by the scheduler and listed for admins, who may retry or discard it.

use super::effects::{self, Effect};
use super::model::{ProviderEvent, WebhookStatus, provider_named};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Duration, Utc};
use entity::{prelude::*, webhook_events};
use rand::Rng;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Attempts before a dead letter waits for an admin instead of the scheduler.
pub const MAX_ATTEMPTS: i32 = 10;

/// The longest error text kept.
const MAX_ERROR_CHARS: usize = 500;

/// What became of a received event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    Processed,
    Ignored,
    /// Seen before: nothing was done again.
    Duplicate,
    /// Kept as a dead letter, to be retried.
    Failed,
}

impl Receipt {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::Failed => "failed",
        }
    }
}

/// Handles a verified request body. Errors are the request's (VALIDATION: not an event) or
/// the database's (SERVICE_UNAVAILABLE: the provider should send it again); a handler's
/// failure is a dead letter, acknowledged.
#[tracing::instrument(skip_all)]
pub async fn receive(actor: &Actor, body: &[u8]) -> AppResult<Receipt> {
    let event = ProviderEvent::parse(body)?;
    let payload: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| AppError::validation("body", "not JSON"))?;
    ingest(actor, event, payload).await
}

/// Handles one event, from the provider's webhook or from the sandbox: stored once, applied in
/// the same transaction, kept as a dead letter if its handler fails.
pub async fn ingest(
    actor: &Actor,
    event: ProviderEvent,
    payload: serde_json::Value,
) -> AppResult<Receipt> {
    let mut uow = UnitOfWork::begin(actor).await?;
    let handled = Stored::Handled { at: actor.now };
    let inserted = store_once(&*uow, &event, payload.clone(), handled).await?;
    if inserted == 0 {
        return Ok(Receipt::Duplicate);
    }
    match effects::apply(&mut uow, &event).await {
        // The row says `processed` already: only an ignored event is written again.
        Ok(Effect::Applied(_)) => {
            uow.commit().await?;
            Ok(Receipt::Processed)
        }
        Ok(ignored) => {
            let receipt = settle(&uow, &event, ignored).await?;
            uow.commit().await?;
            Ok(receipt)
        }
        Err(err @ AppError::ServiceUnavailable { .. }) => Err(err),
        Err(err) => {
            drop(uow);
            let error = err.message_for_operators();
            tracing::warn!(event = %event.id, kind = %event.kind, %error, "payment webhook failed; kept to retry");
            keep_failed(&actor.app.db, &event, payload, &error, actor.now).await?;
            Ok(Receipt::Failed)
        }
    }
}

/// How an event's row is first written.
enum Stored {
    /// Handled in the same transaction (an ignored one is settled again after).
    Handled { at: DateTime<Utc> },
    /// Its handler failed: a dead letter, due again after the first backoff.
    Failed { at: DateTime<Utc>, error: String },
}

/// Writes the event's row unless the provider's event id has one already (a repeat, or a
/// concurrent delivery that got there first); answers how many rows it wrote.
async fn store_once(
    conn: &impl ConnectionTrait,
    event: &ProviderEvent,
    payload: serde_json::Value,
    stored: Stored,
) -> AppResult<u64> {
    let (status, at, processed_at, next_attempt_at, last_error) = match stored {
        Stored::Handled { at } => (WebhookStatus::Processed, at, Some(at), None, None),
        Stored::Failed { at, error } => (
            WebhookStatus::Failed,
            at,
            None,
            Some(at + backoff(1)),
            Some(error),
        ),
    };
    let row = webhook_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(event.provider.to_owned()),
        event_id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        payload: Set(payload),
        status: Set(status.as_str().to_owned()),
        attempts: Set(1),
        next_attempt_at: Set(next_attempt_at.map(Into::into)),
        last_error: Set(last_error),
        note: Set(None),
        received_at: Set(at.into()),
        processed_at: Set(processed_at.map(Into::into)),
    };
    Ok(WebhookEvents::insert(row)
        .on_conflict(
            OnConflict::columns([
                webhook_events::Column::Provider,
                webhook_events::Column::EventId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?)
}

/// Marks the event's row handled, with what the handler said.
async fn settle(uow: &UnitOfWork<'_>, event: &ProviderEvent, effect: Effect) -> AppResult<Receipt> {
    let (status, note, receipt) = match effect {
        Effect::Applied(note) => (WebhookStatus::Processed, note, Receipt::Processed),
        Effect::Ignored(note) => (WebhookStatus::Ignored, note, Receipt::Ignored),
    };
    WebhookEvents::update_many()
        .col_expr(webhook_events::Column::Status, Expr::value(status.as_str()))
        .col_expr(webhook_events::Column::Note, Expr::value(note))
        .col_expr(
            webhook_events::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            webhook_events::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_events::Column::ProcessedAt,
            Expr::value(uow.actor().now),
        )
        .filter(webhook_events::Column::Provider.eq(event.provider))
        .filter(webhook_events::Column::EventId.eq(&event.id))
        .exec(&**uow)
        .await?;
    Ok(receipt)
}

/// Keeps a failed event as a dead letter (unless a concurrent delivery of it got through).
async fn keep_failed(
    conn: &impl ConnectionTrait,
    event: &ProviderEvent,
    payload: serde_json::Value,
    error: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let error = error.chars().take(MAX_ERROR_CHARS).collect();
    store_once(conn, event, payload, Stored::Failed { at: now, error }).await?;
    Ok(())
}

/// The wait after `attempts` failures: 30 seconds doubling to six hours, less up to a quarter
/// at random so letters that failed together are not retried together.
fn backoff(attempts: i32) -> Duration {
    let base = 30i64.saturating_mul(1i64 << attempts.clamp(0, 20).saturating_sub(1));
    let capped = base.min(6 * 3600);
    let jitter = rand::rng().random_range(0..=capped / 4);
    Duration::seconds(capped - jitter)
}

/// Tries a dead letter again. Only one attempt at a time gets the letter: the attempt count is
/// compared and set. Answers what became of it.
pub async fn retry(actor: &Actor, letter: webhook_events::Model) -> AppResult<Receipt> {
    let mut event: ProviderEvent = serde_json::from_value(letter.payload.clone())
        .map_err(|err| AppError::internal(anyhow::anyhow!("stored event unreadable: {err}")))?;
    event.provider = provider_named(&letter.provider);
    let mut uow = UnitOfWork::begin(actor).await?;
    let claimed = WebhookEvents::update_many()
        .col_expr(
            webhook_events::Column::Attempts,
            Expr::value(letter.attempts + 1),
        )
        .filter(webhook_events::Column::Id.eq(letter.id))
        .filter(webhook_events::Column::Status.eq(WebhookStatus::Failed.as_str()))
        .filter(webhook_events::Column::Attempts.eq(letter.attempts))
        .exec(&*uow)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(Receipt::Duplicate);
    }
    match effects::apply(&mut uow, &event).await {
        Ok(effect) => {
            let receipt = settle(&uow, &event, effect).await?;
            uow.commit().await?;
            Ok(receipt)
        }
        Err(err @ AppError::ServiceUnavailable { .. }) => Err(err),
        Err(err) => {
            drop(uow);
            let attempts = letter.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| actor.now + backoff(attempts));
            let error: String = err
                .message_for_operators()
                .chars()
                .take(MAX_ERROR_CHARS)
                .collect();
            WebhookEvents::update_many()
                .col_expr(webhook_events::Column::Attempts, Expr::value(attempts))
                .col_expr(webhook_events::Column::LastError, Expr::value(error))
                .col_expr(webhook_events::Column::NextAttemptAt, Expr::value(next))
                .filter(webhook_events::Column::Id.eq(letter.id))
                .filter(webhook_events::Column::Status.eq(WebhookStatus::Failed.as_str()))
                .exec(&actor.app.db)
                .await?;
            Ok(Receipt::Failed)
        }
    }
}

/// The scheduler's job: every dead letter due, oldest due first, a bounded number per run.
pub async fn retry_due(actor: &Actor) -> AppResult<u64> {
    let due = WebhookEvents::find()
        .filter(webhook_events::Column::Status.eq(WebhookStatus::Failed.as_str()))
        .filter(webhook_events::Column::NextAttemptAt.lte(actor.now))
        .order_by_asc(webhook_events::Column::NextAttemptAt)
        .limit(100)
        .all(&actor.app.db)
        .await?;
    let mut settled = 0;
    for letter in due {
        if matches!(
            retry(actor, letter).await?,
            Receipt::Processed | Receipt::Ignored
        ) {
            settled += 1;
        }
    }
    Ok(settled)
}

/// A dead letter by id, for admins.
pub async fn dead_letter(actor: &Actor, id: Uuid) -> AppResult<webhook_events::Model> {
    actor.require_admin()?;
    WebhookEvents::find_by_id(id)
        .one(&actor.app.db)
        .await?
        .filter(|row| row.status == WebhookStatus::Failed.as_str())
        .ok_or(AppError::NotFound("failed webhook"))
}

/// `discardFailedWebhook`: gives a dead letter up; it is kept, marked discarded, and the
/// decision is audited.
pub async fn discard(actor: &Actor, id: Uuid) -> AppResult<webhook_events::Model> {
    let letter = dead_letter(actor, id).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let discarded = WebhookEvents::update_many()
        .col_expr(
            webhook_events::Column::Status,
            Expr::value(WebhookStatus::Discarded.as_str()),
        )
        .col_expr(
            webhook_events::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(webhook_events::Column::Id.eq(letter.id))
        .filter(webhook_events::Column::Status.eq(WebhookStatus::Failed.as_str()))
        .exec(&*uow)
        .await?;
    if discarded.rows_affected == 0 {
        return Err(AppError::NotFound("failed webhook"));
    }
    let metadata = json!({
        "eventId": letter.event_id, "type": letter.event_type,
        "attempts": letter.attempts, "lastError": letter.last_error,
    });
    uow.record(Change::new("webhook.discarded", "webhook_event", letter.id).metadata(metadata))
        .await?;
    uow.commit().await?;
    reload(actor, id).await
}

pub async fn reload(actor: &Actor, id: Uuid) -> AppResult<webhook_events::Model> {
    WebhookEvents::find_by_id(id)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("failed webhook"))
}

fn failed() -> Select<WebhookEvents> {
    WebhookEvents::find().filter(webhook_events::Column::Status.eq(WebhookStatus::Failed.as_str()))
}

/// One page of dead letters, newest first. Admins only.
pub async fn page(actor: &Actor, page: &PageArgs) -> AppResult<Page<webhook_events::Model>> {
    actor.require_admin()?;
    let mut query = failed().order_by_desc(webhook_events::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(webhook_events::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor) -> AppResult<Count> {
    actor.require_admin()?;
    total_count::count(&actor.app, failed()).await
}
