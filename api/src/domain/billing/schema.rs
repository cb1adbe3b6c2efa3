use super::model::WebhookStatus;
use super::webhooks;
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::webhook_events;
use uuid::Uuid;

/// A payment webhook as received (admins only). Its payload is kept for retries, not shown.
pub struct WebhookEvent(webhook_events::Model);

impl Guarded for WebhookEvent {
    type Row = webhook_events::Model;

    /// Operator data: what the payment provider said about customers.
    fn audience(_: &webhook_events::Model) -> Audience {
        Audience::Admins
    }

    fn wrap(row: webhook_events::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl WebhookEvent {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    /// The provider's event id.
    async fn event_id(&self) -> &str {
        &self.0.event_id
    }
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn status(&self) -> Result<WebhookStatus> {
        Ok(WebhookStatus::from_stored(&self.0.status)?)
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the scheduler tries it again; none once it gave up (an admin may still retry).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at.map(|t| t.with_timezone(&Utc))
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// What handling it did, once handled.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn received_at(&self) -> DateTime<Utc> {
        self.0.received_at.with_timezone(&Utc)
    }
    async fn processed_at(&self) -> Option<DateTime<Utc>> {
        self.0.processed_at.map(|t| t.with_timezone(&Utc))
    }
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// Payment webhooks whose handling failed (the dead letters), newest first. Admins only.
    async fn failed_webhooks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<WebhookEvent>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = webhooks::page(actor, &page).await?;
        let count = webhooks::count(actor);
        connection::<WebhookEvent>(ctx, rows, |_, w| id_cursor(w.id), count).await
    }
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Handles a dead letter again now; answers it as it stands after (processed, or failed
    /// with the new error). Admins only.
    async fn retry_failed_webhook(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookEvent> {
        let actor = ctx.actor()?;
        let letter = webhooks::dead_letter(actor, id).await?;
        webhooks::retry(actor, letter).await?;
        let row = webhooks::reload(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "failed webhook")?)
    }

    /// Gives a dead letter up: kept, marked discarded, never retried. Admins only.
    async fn discard_failed_webhook(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookEvent> {
        let actor = ctx.actor()?;
        let row = webhooks::discard(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "failed webhook")?)
    }
}
