//! Webhook endpoints and their deliveries: registering, changing and removing endpoints, their
//! secrets, listing deliveries, sending one again and trying an endpoint. A developer (or its
//! API token with `webhooks:write`) manages its own endpoints; an admin every one. Each change
//! is one unit of work with its audit row, which keeps the endpoint's host, never its full URL
//! (a query string may carry a receiver's token) nor its secret.

use super::model::{self, TEST_EVENT, WebhookDeliveryStatus, WebhookDisabledReason};
use super::signature;
use super::target;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::events::{Change, Event, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{prelude::*, webhook_deliveries, webhook_endpoints};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select, Set, Statement,
};
use serde_json::json;
use uuid::Uuid;

/// Endpoints one owner may have: plenty for every integration, not a fan-out amplifier.
pub const MAX_ENDPOINTS: u64 = 20;

const MAX_DESCRIPTION_CHARS: usize = 200;

/// The event a unit of work publishes when it queues a delivery outside the fan-out (a resend,
/// a test): the delivery worker of the process that committed it wakes at once.
pub const QUEUED: &str = "webhook.queued";

/// What an endpoint is registered with.
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// What may change on an endpoint; `None` leaves a field as it is.
#[derive(Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An endpoint with its secret, as answered once when it is made or its secret is rotated.
pub struct WithSecret {
    pub secret: String,
    pub endpoint: webhook_endpoints::Model,
}

/// Registers an endpoint for the caller; the answer carries its secret, once.
#[tracing::instrument(skip_all)]
pub async fn create(actor: &Actor, new: NewEndpoint) -> AppResult<WithSecret> {
    let owner = require_owner(actor)?;
    let url = checked_url(actor, &new.url).await?;
    let event_types = model::stored_event_types(&new.event_types)?;
    let description = checked_description(new.description)?.filter(|d| !d.is_empty());
    let mut uow = UnitOfWork::begin(actor).await?;
    lock_owner(&uow, owner).await?;
    let held = WebhookEndpoints::find()
        .filter(webhook_endpoints::Column::OwnerId.eq(owner))
        .count(&*uow)
        .await?;
    if held >= MAX_ENDPOINTS {
        return Err(AppError::QuotaExceeded {
            metric: "webhook_endpoints".to_owned(),
            limit: MAX_ENDPOINTS as i64,
            current: held as i64,
            index: None,
        });
    }
    let seed = signature::new_seed();
    let endpoint = webhook_endpoints::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_id: Set(owner),
        url: Set(url),
        event_types: Set(event_types),
        secret_seed: Set(seed),
        description: Set(description),
        enabled: Set(true),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(actor.now.into()),
    }
    .insert(&*uow)
    .await?;
    uow.record(change("webhook_endpoint.created", &endpoint))
        .await?;
    uow.commit().await?;
    Ok(WithSecret {
        secret: shown_secret(actor, &endpoint),
        endpoint,
    })
}

/// Changes an endpoint's URL, event types, description or whether it is on. Turning it off
/// gives up its waiting deliveries (`dead`); turning it on starts afresh (not failing).
#[tracing::instrument(skip_all, fields(%endpoint_id))]
pub async fn update(
    actor: &Actor,
    endpoint_id: Uuid,
    changes: EndpointChanges,
) -> AppResult<webhook_endpoints::Model> {
    require_owner(actor)?;
    let url = match &changes.url {
        Some(url) => Some(checked_url(actor, url).await?),
        None => None,
    };
    let event_types = changes
        .event_types
        .as_deref()
        .map(model::stored_event_types)
        .transpose()?;
    let description = checked_description(changes.description)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let found = managed(actor, &*uow, endpoint_id).await?;
    let mut endpoint: webhook_endpoints::ActiveModel = found.clone().into();
    if let Some(url) = url {
        endpoint.url = Set(url);
    }
    if let Some(event_types) = event_types {
        endpoint.event_types = Set(event_types);
    }
    if let Some(description) = description {
        // Empty text clears it.
        endpoint.description = Set((!description.is_empty()).then_some(description));
    }
    match changes.enabled {
        Some(true) if !found.enabled => {
            endpoint.enabled = Set(true);
            endpoint.disabled_at = Set(None);
            endpoint.disabled_reason = Set(None);
            endpoint.failing_since = Set(None);
        }
        Some(false) if found.enabled => {
            endpoint.enabled = Set(false);
            endpoint.disabled_at = Set(Some(actor.now.into()));
            endpoint.disabled_reason =
                Set(Some(WebhookDisabledReason::ByOwner.as_str().to_owned()));
            give_up_waiting(&*uow, found.id, "the endpoint was disabled").await?;
        }
        _ => {}
    }
    let endpoint = endpoint.update(&*uow).await?;
    uow.record(change("webhook_endpoint.updated", &endpoint))
        .await?;
    uow.commit().await?;
    Ok(endpoint)
}

/// Removes an endpoint and its deliveries; answers it as it was.
#[tracing::instrument(skip_all, fields(%endpoint_id))]
pub async fn delete(actor: &Actor, endpoint_id: Uuid) -> AppResult<webhook_endpoints::Model> {
    require_owner(actor)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let found = managed(actor, &*uow, endpoint_id).await?;
    WebhookEndpoints::delete_by_id(found.id).exec(&*uow).await?;
    uow.record(change("webhook_endpoint.deleted", &found))
        .await?;
    uow.commit().await?;
    Ok(found)
}

/// Gives an endpoint a new secret, answered once; the old one stops signing at once.
#[tracing::instrument(skip_all, fields(%endpoint_id))]
pub async fn rotate_secret(actor: &Actor, endpoint_id: Uuid) -> AppResult<WithSecret> {
    require_owner(actor)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let found = managed(actor, &*uow, endpoint_id).await?;
    let mut endpoint: webhook_endpoints::ActiveModel = found.into();
    endpoint.secret_seed = Set(signature::new_seed());
    let endpoint = endpoint.update(&*uow).await?;
    uow.record(change("webhook_endpoint.secret_rotated", &endpoint))
        .await?;
    uow.commit().await?;
    Ok(WithSecret {
        secret: shown_secret(actor, &endpoint),
        endpoint,
    })
}

/// Sends a `webhook.test` event to the endpoint, through the outbox and the worker like any
/// other (even while the endpoint is disabled: trying it is how one learns it works again).
#[tracing::instrument(skip_all, fields(%endpoint_id))]
pub async fn test(actor: &Actor, endpoint_id: Uuid) -> AppResult<webhook_deliveries::Model> {
    require_owner(actor)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let endpoint = managed(actor, &*uow, endpoint_id).await?;
    let event_id = Uuid::now_v7();
    let payload = model::payload(
        event_id,
        TEST_EVENT,
        endpoint.id,
        Some(endpoint.owner_id),
        actor.now,
        &json!({ "endpointId": endpoint.id }),
    );
    let delivery = webhook_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        endpoint_id: Set(endpoint.id),
        owner_id: Set(endpoint.owner_id),
        event_id: Set(event_id),
        event_type: Set(TEST_EVENT.to_owned()),
        payload: Set(payload),
        status: Set(WebhookDeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(Some(actor.now.into())),
        retry_until: Set(actor.app.config.webhooks.retry_until(actor.now).into()),
        last_attempt_at: Set(None),
        last_status_code: Set(None),
        last_latency_ms: Set(None),
        last_error: Set(None),
        created_at: Set(actor.now.into()),
        delivered_at: Set(None),
    }
    .insert(&*uow)
    .await?;
    uow.record(change("webhook_endpoint.tested", &endpoint))
        .await?;
    wake_worker(&mut uow, delivery.id);
    uow.commit().await?;
    Ok(delivery)
}

/// Queues a fresh attempt of a delivery, now, with the same `webhook-id`; it is retried for a
/// full window again if it fails.
#[tracing::instrument(skip_all, fields(%delivery_id))]
pub async fn resend(actor: &Actor, delivery_id: Uuid) -> AppResult<webhook_deliveries::Model> {
    require_owner(actor)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let delivery = WebhookDeliveries::find_by_id(delivery_id)
        .one(&*uow)
        .await?
        .filter(|delivery| actor.manages(delivery.owner_id))
        .ok_or(AppError::NotFound("webhook delivery"))?;
    let mut again: webhook_deliveries::ActiveModel = delivery.into();
    again.status = Set(WebhookDeliveryStatus::Pending.as_str().to_owned());
    again.next_attempt_at = Set(Some(actor.now.into()));
    again.retry_until = Set(actor.app.config.webhooks.retry_until(actor.now).into());
    again.delivered_at = Set(None);
    let delivery = again.update(&*uow).await?;
    uow.record(
        Change::new("webhook_delivery.resent", "webhook_delivery", delivery.id)
            .owner(delivery.owner_id)
            .metadata(json!({
                "endpointId": delivery.endpoint_id,
                "eventType": delivery.event_type,
            })),
    )
    .await?;
    wake_worker(&mut uow, delivery.id);
    uow.commit().await?;
    Ok(delivery)
}

/// One page of endpoints, newest first: the caller's own; an admin's, everyone's.
pub async fn page(actor: &Actor, page: &PageArgs) -> AppResult<Page<webhook_endpoints::Model>> {
    let mut query = listed(actor)?.order_by_desc(webhook_endpoints::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(webhook_endpoints::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor) -> AppResult<Count> {
    total_count::count(&actor.app, listed(actor)?).await
}

/// The endpoint `id` if the caller may see it.
pub async fn visible(actor: &Actor, id: Uuid) -> AppResult<webhook_endpoints::Model> {
    require_owner(actor)?;
    managed(actor, &actor.app.db, id).await
}

fn listed(actor: &Actor) -> AppResult<Select<WebhookEndpoints>> {
    let me = require_owner(actor)?;
    let query = WebhookEndpoints::find();
    Ok(if actor.is_admin() {
        query
    } else {
        query.filter(webhook_endpoints::Column::OwnerId.eq(me))
    })
}

/// One page of deliveries, newest first: of one endpoint, or of every endpoint the caller may
/// see; of one status if asked.
pub async fn deliveries(
    actor: &Actor,
    endpoint_id: Option<Uuid>,
    status: Option<WebhookDeliveryStatus>,
    page: &PageArgs,
) -> AppResult<Page<webhook_deliveries::Model>> {
    let mut query = deliveries_listed(actor, endpoint_id, status)
        .await?
        .order_by_desc(webhook_deliveries::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(webhook_deliveries::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count_deliveries(
    actor: &Actor,
    endpoint_id: Option<Uuid>,
    status: Option<WebhookDeliveryStatus>,
) -> AppResult<Count> {
    total_count::count(
        &actor.app,
        deliveries_listed(actor, endpoint_id, status).await?,
    )
    .await
}

async fn deliveries_listed(
    actor: &Actor,
    endpoint_id: Option<Uuid>,
    status: Option<WebhookDeliveryStatus>,
) -> AppResult<Select<WebhookDeliveries>> {
    let me = require_owner(actor)?;
    let mut query = WebhookDeliveries::find();
    if let Some(id) = endpoint_id {
        let endpoint = managed(actor, &actor.app.db, id).await?;
        query = query.filter(webhook_deliveries::Column::EndpointId.eq(endpoint.id));
    } else if !actor.is_admin() {
        query = query.filter(webhook_deliveries::Column::OwnerId.eq(me));
    }
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::Column::Status.eq(status.as_str()));
    }
    Ok(query)
}

/// Gives up the endpoint's deliveries that are still waiting: `dead`, saying why.
pub(super) async fn give_up_waiting(
    conn: &impl ConnectionTrait,
    endpoint_id: Uuid,
    why: &str,
) -> AppResult<()> {
    WebhookDeliveries::update_many()
        .col_expr(
            webhook_deliveries::Column::Status,
            Expr::value(WebhookDeliveryStatus::Dead.as_str()),
        )
        .col_expr(
            webhook_deliveries::Column::NextAttemptAt,
            Expr::value(sea_orm::Value::ChronoDateTimeWithTimeZone(None)),
        )
        .col_expr(webhook_deliveries::Column::LastError, Expr::value(why))
        .filter(webhook_deliveries::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_deliveries::Column::Status.is_in([
            WebhookDeliveryStatus::Pending.as_str(),
            WebhookDeliveryStatus::Failed.as_str(),
        ]))
        .exec(conn)
        .await?;
    Ok(())
}

/// The endpoint `id` if the caller manages it; NOT_FOUND otherwise, as if it did not exist.
async fn managed(
    actor: &Actor,
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<webhook_endpoints::Model> {
    WebhookEndpoints::find_by_id(id)
        .one(conn)
        .await?
        .filter(|endpoint| actor.manages(endpoint.owner_id))
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// The audit row of a change to an endpoint: its host, never its whole URL or its secret.
fn change(kind: &str, endpoint: &webhook_endpoints::Model) -> Change {
    let host = target::parse(&endpoint.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned));
    Change::new(kind, "webhook_endpoint", endpoint.id)
        .owner(endpoint.owner_id)
        .metadata(json!({
            "host": host,
            "eventTypes": model::event_type_list(&endpoint.event_types),
            "enabled": endpoint.enabled,
        }))
}

fn shown_secret(actor: &Actor, endpoint: &webhook_endpoints::Model) -> String {
    let secret = signature::secret_bytes(
        &actor.app.config.auth.license_key_secret,
        &endpoint.secret_seed,
    );
    signature::shown_secret(&secret)
}

/// Wakes this process's delivery worker when the unit of work commits.
fn wake_worker(uow: &mut UnitOfWork<'_>, delivery_id: Uuid) {
    uow.publish(Event {
        kind: QUEUED.to_owned(),
        entity_id: delivery_id,
        developer_id: None,
        data: serde_json::Value::Null,
    });
}

async fn checked_url(actor: &Actor, raw: &str) -> AppResult<String> {
    let allow_private = actor.app.config.webhooks.allow_private_targets;
    Ok(target::check(raw, allow_private).await?.to_string())
}

fn checked_description(description: Option<String>) -> AppResult<Option<String>> {
    let Some(description) = description else {
        return Ok(None);
    };
    let description = description.trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_CHARS
        || description.chars().any(char::is_control)
    {
        return Err(AppError::validation(
            "description",
            format!("one line of at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(Some(description))
}

/// Holds the owner's row until the unit of work ends, so that two registrations at once cannot
/// both pass the endpoint limit (SQLite writes one at a time already).
async fn lock_owner(uow: &UnitOfWork<'_>, owner: Uuid) -> AppResult<()> {
    if uow.get_database_backend() == DbBackend::Postgres {
        uow.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
            [owner.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A developer or an admin, as itself or through its API token: endpoints are theirs.
fn require_owner(actor: &Actor) -> AppResult<Uuid> {
    match actor.require_user()? {
        (id, Role::Developer | Role::Admin) => Ok(id),
        (_, Role::Member) => Err(AppError::Forbidden(
            "webhook endpoints are for developers and admins",
        )),
    }
}
