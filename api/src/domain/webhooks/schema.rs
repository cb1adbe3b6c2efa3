use super::loaders::AttemptsByDelivery;
use super::model::{self, WebhookDeliveryStatus, WebhookDisabledReason};
use super::service::{self as webhooks, EndpointChanges, NewEndpoint, WithSecret};
use crate::auth::{Actor, Audience};
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::{ContextExt, related_owned};
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::graphql::siblings::Together;
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, InputObject, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use uuid::Uuid;

/// Where a developer (its own events) or an admin (every event) receives events, signed with
/// the endpoint's secret (Standard Webhooks).
pub struct WebhookEndpoint(webhook_endpoints::Model);

impl Guarded for WebhookEndpoint {
    type Row = webhook_endpoints::Model;

    fn audience(row: &webhook_endpoints::Model) -> Audience {
        Audience::OwnedBy(Some(row.owner_id))
    }

    /// The object never holds what the secret is derived from, so no field can show it.
    fn wrap(mut row: webhook_endpoints::Model, _: Seen) -> Self {
        row.secret_seed.clear();
        Self(row)
    }
}

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The account whose events it receives (an admin's: every event).
    async fn owner_id(&self) -> Uuid {
        self.0.owner_id
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Event types it receives: exact (`license.created`), a domain's (`license.*`) or `*`.
    async fn event_types(&self) -> Vec<String> {
        model::event_type_list(&self.0.event_types)
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// False once its owner turned it off or it was disabled for failing.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at.map(|t| t.with_timezone(&Utc))
    }
    async fn disabled_reason(&self) -> Result<Option<WebhookDisabledReason>> {
        Ok(self
            .0
            .disabled_reason
            .as_deref()
            .map(WebhookDisabledReason::from_stored)
            .transpose()?)
    }
    /// Its first failed delivery since its last success; null while it succeeds.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since.map(|t| t.with_timezone(&Utc))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

/// One event on its way to one endpoint, its last attempt and the history of them all.
pub struct WebhookDelivery(webhook_deliveries::Model);

impl Guarded for WebhookDelivery {
    type Row = webhook_deliveries::Model;

    fn audience(row: &webhook_deliveries::Model) -> Audience {
        Audience::OwnedBy(Some(row.owner_id))
    }

    fn wrap(row: webhook_deliveries::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn endpoint_id(&self) -> Uuid {
        self.0.endpoint_id
    }
    /// The `webhook-id` header: the same on every attempt and for every endpoint of the event.
    async fn webhook_id(&self) -> String {
        model::message_id(self.0.event_id)
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The JSON body posted.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(self.0.payload.clone())
    }
    async fn status(&self) -> Result<WebhookDeliveryStatus> {
        Ok(WebhookDeliveryStatus::from_stored(&self.0.status)?)
    }
    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When it is tried next; null once it succeeded or is dead.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at.map(|t| t.with_timezone(&Utc))
    }
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at.map(|t| t.with_timezone(&Utc))
    }
    /// The HTTP status the endpoint answered the last attempt with; null if it answered none.
    async fn response_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }
    /// How long the last attempt took to be answered, in milliseconds.
    async fn latency_ms(&self) -> Option<i32> {
        self.0.last_latency_ms
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at.map(|t| t.with_timezone(&Utc))
    }
    /// Every attempt made, newest first (at most a page): when, what the endpoint answered, how
    /// long it took and why it failed. A resend's attempts follow the earlier ones.
    async fn attempt_history(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        related_owned::<AttemptsByDelivery, WebhookAttempt, _>(
            ctx,
            &Together::default(),
            self.0.id,
            self.0.owner_id,
        )
        .await
    }
}

/// One POST of a delivery to its endpoint.
pub struct WebhookAttempt(webhook_attempts::Model);

impl Guarded for WebhookAttempt {
    type Row = (webhook_attempts::Model, Uuid);

    fn audience((_, owner): &Self::Row) -> Audience {
        Audience::OwnedBy(Some(*owner))
    }

    fn wrap((attempt, _): Self::Row, _: Seen) -> Self {
        Self(attempt)
    }
}

#[Object]
impl WebhookAttempt {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn delivery_id(&self) -> Uuid {
        self.0.delivery_id
    }
    /// 1 for the delivery's first attempt, counting on through retries and resends.
    async fn number(&self) -> i32 {
        self.0.number
    }
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at.with_timezone(&Utc)
    }
    /// Whether the endpoint answered with a 2xx status.
    async fn succeeded(&self) -> bool {
        self.0.error.is_none()
    }
    /// The HTTP status the endpoint answered with; null if it answered none.
    async fn response_status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    /// How long the endpoint took to answer, in milliseconds; null if the request never went.
    async fn latency_ms(&self) -> Option<i32> {
        self.0.latency_ms
    }
    /// Why it failed, in our words (never the response body).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// An http(s) URL of at most 2048 characters, on a public address.
    url: String,
    /// Event types to receive: exact (`license.created`), a domain's (`license.*`) or `*`.
    event_types: Vec<String>,
    /// What it is for, at most 200 characters.
    description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    /// Empty text clears it.
    description: Option<String>,
    /// False turns it off (its waiting deliveries are given up); true turns it back on.
    enabled: Option<bool>,
}

#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    /// The signing secret (`whsec_...`): shown this once and never again.
    secret: String,
    webhook_endpoint: WebhookEndpoint,
}

fn with_secret(actor: &Actor, made: WithSecret) -> Result<WebhookEndpointWithSecret> {
    Ok(WebhookEndpointWithSecret {
        secret: made.secret,
        webhook_endpoint: shown_or_not_found(actor, made.endpoint, "webhook endpoint")?,
    })
}

#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Webhook endpoints, newest first: the caller's own; an admin's, everyone's.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<WebhookEndpoint>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = webhooks::page(actor, &page).await?;
        let count = webhooks::count(actor);
        connection::<WebhookEndpoint>(ctx, rows, |_, row| id_cursor(row.id), count).await
    }

    async fn webhook_endpoint(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookEndpoint> {
        let actor = ctx.actor()?;
        let row = webhooks::visible(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "webhook endpoint")?)
    }

    /// Deliveries newest first, with their last attempt: of one endpoint, or of every endpoint
    /// the caller may see; of one status if asked.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: Option<Uuid>,
        status: Option<WebhookDeliveryStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<WebhookDelivery>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = webhooks::deliveries(actor, endpoint_id, status, &page).await?;
        let count = webhooks::count_deliveries(actor, endpoint_id, status);
        connection::<WebhookDelivery>(ctx, rows, |_, row| id_cursor(row.id), count).await
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Registers an endpoint receiving the caller's events (an admin's: every event); the
    /// answer carries its signing secret once. At most 20 per account.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let actor = ctx.actor()?;
        let new = NewEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        };
        with_secret(actor, webhooks::create(actor, new).await?)
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let actor = ctx.actor()?;
        let changes = EndpointChanges {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
        };
        let row = webhooks::update(actor, id, changes).await?;
        Ok(shown_or_not_found(actor, row, "webhook endpoint")?)
    }

    /// Removes an endpoint and its deliveries; answers it as it was.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<WebhookEndpoint> {
        let actor = ctx.actor()?;
        let row = webhooks::delete(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "webhook endpoint")?)
    }

    /// Gives an endpoint a new signing secret, answered once; the old one stops at once.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<WebhookEndpointWithSecret> {
        let actor = ctx.actor()?;
        with_secret(actor, webhooks::rotate_secret(actor, id).await?)
    }

    /// Queues a fresh attempt of a delivery now, with the same `webhook-id`.
    async fn resend_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: Uuid,
    ) -> Result<WebhookDelivery> {
        let actor = ctx.actor()?;
        let row = webhooks::resend(actor, delivery_id).await?;
        Ok(shown_or_not_found(actor, row, "webhook delivery")?)
    }

    /// Sends a `webhook.test` event to the endpoint through the outbox; answers its delivery.
    async fn test_webhook_endpoint(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookDelivery> {
        let actor = ctx.actor()?;
        let row = webhooks::test(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "webhook delivery")?)
    }
}
