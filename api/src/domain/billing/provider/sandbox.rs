//! The sandbox provider: every operation completes at once, inside the gateway, by emitting
//! the events Stripe would send for it (with `sbx` ids), handled by the same code as Stripe's
//! webhooks: stored once, applied with their audit and published events, listed for admins.
//! A newcomer walks the whole lifecycle (checkout, subscription, invoice, payment, an active
//! license; cancellation and resumption; a change of price) with nothing configured.

use super::{Hosted, Order, PaymentProvider, return_url};
use crate::auth::Actor;
use crate::domain::billing::model::{ProviderEvent, SANDBOX};
use crate::domain::billing::webhooks::{self, Receipt};
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use chrono::{DateTime, Months, Utc};
use entity::{plan_prices, subscriptions};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Sandbox;

fn sandbox_id(prefix: &str) -> String {
    format!("{prefix}_sbx_{}", Uuid::now_v7().simple())
}

/// Hands one event to the webhook handler, as if the provider had sent it.
async fn emit(actor: &Actor, kind: &str, object: Value) -> AppResult<()> {
    let payload = json!({
        "id": sandbox_id("evt"),
        "type": kind,
        "created": actor.now.timestamp(),
        "data": { "object": object },
    });
    let mut event: ProviderEvent = serde_json::from_value(payload.clone())
        .map_err(|err| AppError::internal(anyhow::anyhow!("sandbox event: {err}")))?;
    event.provider = SANDBOX;
    match webhooks::ingest(actor, event, payload).await? {
        Receipt::Failed => Err(AppError::internal(anyhow::anyhow!(
            "the sandbox's {kind} event failed; see failedWebhooks"
        ))),
        _ => Ok(()),
    }
}

fn period_end(start: DateTime<Utc>, interval: &str) -> DateTime<Utc> {
    let months = if interval == "year" { 12 } else { 1 };
    start
        .checked_add_months(Months::new(months))
        .unwrap_or(start)
}

/// A subscription object as the provider describes it.
struct SubscriptionObject<'a> {
    id: &'a str,
    customer: &'a str,
    status: &'a str,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    cancel_at_period_end: bool,
    license_id: Uuid,
    item_id: &'a str,
    price: Option<&'a plan_prices::Model>,
    price_id: Option<Uuid>,
}

impl SubscriptionObject<'_> {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "subscription",
            "customer": self.customer,
            "status": self.status,
            "current_period_start": self.start.map(|t| t.timestamp()),
            "current_period_end": self.end.map(|t| t.timestamp()),
            "cancel_at_period_end": self.cancel_at_period_end,
            "metadata": {
                "license_id": self.license_id.to_string(),
                "plan_price_id": self.price_id.map(|id| id.to_string()),
            },
            "items": { "data": [{
                "id": self.item_id,
                "price": self.price.map(|p| json!({
                    "id": p.provider_price_id,
                    "unit_amount": p.amount_minor,
                    "currency": p.currency.to_lowercase(),
                })),
            }] },
        })
    }
}

fn as_object(row: &subscriptions::Model) -> SubscriptionObject<'_> {
    SubscriptionObject {
        id: &row.provider_subscription_id,
        customer: row.provider_customer_id.as_deref().unwrap_or_default(),
        status: &row.status,
        start: row.current_period_start.map(|t| t.with_timezone(&Utc)),
        end: row.current_period_end.map(|t| t.with_timezone(&Utc)),
        cancel_at_period_end: row.cancel_at_period_end,
        license_id: row.license_id,
        item_id: row.provider_item_id.as_deref().unwrap_or("si_sbx"),
        price: None,
        price_id: row.plan_price_id,
    }
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        SANDBOX
    }

    async fn checkout(&self, actor: &Actor, order: &Order<'_>) -> AppResult<Hosted> {
        let now = actor.now;
        let session = sandbox_id("cs");
        let subscription_id = sandbox_id("sub");
        let item_id = sandbox_id("si");
        let invoice_id = sandbox_id("in");
        let customer = order.customer_id.map_or_else(
            || format!("cus_sbx_{}", order.developer.id.simple()),
            str::to_owned,
        );
        let end = period_end(now, &order.price.interval);
        let metadata = json!({
            "license_id": order.license_id.to_string(),
            "plan_price_id": order.price.id.to_string(),
        });
        emit(
            actor,
            "checkout.session.completed",
            json!({
                "id": session,
                "object": "checkout.session",
                "mode": "subscription",
                "status": "complete",
                "customer": customer,
                "subscription": subscription_id,
                "client_reference_id": order.license_id.to_string(),
                "metadata": metadata,
            }),
        )
        .await?;
        let subscription = SubscriptionObject {
            id: &subscription_id,
            customer: &customer,
            status: "active",
            start: Some(now),
            end: Some(end),
            cancel_at_period_end: false,
            license_id: order.license_id,
            item_id: &item_id,
            price: Some(order.price),
            price_id: Some(order.price.id),
        };
        emit(actor, "customer.subscription.created", subscription.json()).await?;
        let invoice = |status: &str| {
            json!({
                "id": invoice_id,
                "object": "invoice",
                "customer": customer,
                "subscription": subscription_id,
                "number": format!("SBX-{}", &invoice_id[7..15].to_uppercase()),
                "status": status,
                "currency": order.price.currency.to_lowercase(),
                "total": order.price.amount_minor,
                "amount_due": order.price.amount_minor,
                "amount_paid": if status == "paid" { order.price.amount_minor } else { 0 },
                "period_start": now.timestamp(),
                "period_end": end.timestamp(),
                "charge": if status == "paid" { Some(invoice_id.replace("in_", "ch_")) } else { None },
                "lines": { "data": [{
                    "description": format!("{} ({})", order.plan.name, order.price.interval),
                    "amount": order.price.amount_minor,
                    "quantity": 1,
                }] },
            })
        };
        emit(actor, "invoice.finalized", invoice("open")).await?;
        emit(actor, "invoice.payment_succeeded", invoice("paid")).await?;
        Ok(Hosted {
            url: format!(
                "{}&session_id={session}",
                return_url(&actor.app.config, "success")
            ),
            id: session,
        })
    }

    async fn portal(&self, actor: &Actor, _: &str) -> AppResult<Hosted> {
        // The sandbox has no pages of its own: the customer goes straight back.
        Ok(Hosted {
            id: sandbox_id("bps"),
            url: actor.app.config.billing.return_url.clone(),
        })
    }

    async fn cancel(
        &self,
        actor: &Actor,
        subscription: &subscriptions::Model,
        at_period_end: bool,
    ) -> AppResult<()> {
        let mut object = as_object(subscription);
        if at_period_end {
            object.cancel_at_period_end = true;
            emit(actor, "customer.subscription.updated", object.json()).await
        } else {
            object.status = "canceled";
            emit(actor, "customer.subscription.deleted", object.json()).await
        }
    }

    async fn resume(&self, actor: &Actor, subscription: &subscriptions::Model) -> AppResult<()> {
        let mut object = as_object(subscription);
        object.cancel_at_period_end = false;
        emit(actor, "customer.subscription.updated", object.json()).await
    }

    async fn change_price(
        &self,
        actor: &Actor,
        subscription: &subscriptions::Model,
        price: &plan_prices::Model,
    ) -> AppResult<()> {
        let mut object = as_object(subscription);
        object.price = Some(price);
        object.price_id = Some(price.id);
        emit(actor, "customer.subscription.updated", object.json()).await
    }
}
