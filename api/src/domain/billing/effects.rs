//! What a payment event does, inside the unit of work that records it: the subscription is
//! mirrored, and the license it pays for follows (a failed payment puts it past due with a
//! grace deadline, a paid invoice makes it active through the period paid for, a deleted
//! subscription cancels it). An event older than the state already mirrored for its
//! subscription changes nothing, so events may arrive in any order.

use super::model::{InvoiceStatus, ProviderEvent, SubscriptionStatus, TransactionStatus, unusable};
use super::{ledger, plan_follow};
use crate::domain::instances::paid::provision_paid;
use crate::domain::licenses::changes::change;
use crate::domain::licenses::lifecycle::{GRACE_PERIOD, compare_and_set};
use crate::domain::licenses::model::{LicenseState, PaymentState};
use crate::domain::licenses::transitions;
use crate::error::AppResult;
use crate::events::UnitOfWork;
use chrono::{DateTime, Utc};
use entity::{licenses, prelude::*, subscriptions};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

/// What handling an event did.
pub enum Effect {
    /// Changed what it is about; the note says how.
    Applied(String),
    /// Stored and acknowledged, nothing changed; the note says why.
    Ignored(String),
}

pub async fn apply(uow: &mut UnitOfWork<'_>, event: &ProviderEvent) -> AppResult<Effect> {
    match event.kind.as_str() {
        "customer.subscription.created" | "customer.subscription.updated" => {
            subscription_changed(uow, event, false).await
        }
        "customer.subscription.deleted" => subscription_changed(uow, event, true).await,
        "invoice.payment_failed" => invoice_paid(uow, event, false).await,
        "invoice.payment_succeeded" => invoice_paid(uow, event, true).await,
        "invoice.finalized" => {
            let invoice = ledger::invoice(uow, event, InvoiceStatus::Open, None).await?;
            Ok(Effect::Applied(format!("invoice {} recorded", invoice.id)))
        }
        "charge.refunded" => Ok(Effect::Applied(ledger::refund(uow, event).await?)),
        "checkout.session.completed" => checkout_completed(uow, event).await,
        "customer.subscription.trial_will_end" => {
            Ok(Effect::Ignored("noted: the trial ends soon".into()))
        }
        other => Ok(Effect::Ignored(format!("{other} is not handled"))),
    }
}

/// Mirrors the subscription in the event, unless what is mirrored is newer; then the license
/// follows its status.
async fn subscription_changed(
    uow: &mut UnitOfWork<'_>,
    event: &ProviderEvent,
    deleted: bool,
) -> AppResult<Effect> {
    let provider_id = event
        .text("id")
        .ok_or_else(|| unusable("a subscription without an id"))?;
    let status = if deleted {
        SubscriptionStatus::Canceled
    } else {
        let raw = event
            .text("status")
            .ok_or_else(|| unusable("a subscription without a status"))?;
        SubscriptionStatus::parse(raw).ok_or_else(|| unusable("an unknown subscription status"))?
    };
    let at = event.created_at()?;
    let existing = find(uow, event, provider_id).await?;
    if let Some(known) = &existing
        && known.provider_updated_at.with_timezone(&Utc) > at
    {
        return Ok(Effect::Ignored(
            "older than the subscription's mirrored state".into(),
        ));
    }
    let license_id = match &existing {
        Some(known) => known.license_id,
        None => event
            .data
            .object
            .pointer("/metadata/license_id")
            .and_then(|v| v.as_str())
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| unusable("a new subscription names no license (metadata.license_id)"))?,
    };
    let license = Licenses::find_by_id(license_id)
        .one(&**uow)
        .await?
        .ok_or_else(|| unusable("the subscription's license does not exist"))?;
    let now = uow.actor().now;
    let period_end = event.time("current_period_end");
    let subscription_id = existing
        .as_ref()
        .map_or_else(Uuid::now_v7, |known| known.id);
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(known) => known.into(),
        None => subscriptions::ActiveModel {
            id: Set(subscription_id),
            developer_id: Set(license.developer_id),
            license_id: Set(license.id),
            provider: Set(event.provider.to_owned()),
            provider_subscription_id: Set(provider_id.to_owned()),
            created_at: Set(now.into()),
            ..Default::default()
        },
    };
    row.provider_customer_id = Set(event.text("customer").map(str::to_owned));
    row.status = Set(status.as_str().to_owned());
    row.current_period_start = Set(event.time("current_period_start").map(Into::into));
    row.current_period_end = Set(period_end.map(Into::into));
    row.cancel_at_period_end = Set(event
        .data
        .object
        .get("cancel_at_period_end")
        .and_then(|v| v.as_bool())
        .unwrap_or(false));
    row.provider_updated_at = Set(at.into());
    row.updated_at = Set(now.into());
    if let Some(item) = event
        .data
        .object
        .pointer("/items/data/0/id")
        .and_then(|v| v.as_str())
    {
        row.provider_item_id = Set(Some(item.chars().take(255).collect()));
    }
    let price = plan_follow::price_named(uow, event, &license).await?;
    if let Some(price) = &price {
        row.plan_price_id = Set(Some(price.id));
    }
    if is_new {
        row.insert(&**uow).await?;
    } else {
        row.update(&**uow).await?;
    }
    let target = match status {
        SubscriptionStatus::Active => Some(Follow::paid(period_end)),
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid => Some(Follow::overdue()),
        SubscriptionStatus::Canceled => Some(Follow::cancelled()),
        _ => None,
    };
    let mut note = match target {
        Some(target) => follow(uow, &license, target, event).await?,
        None => "the license is left as it is".to_owned(),
    };
    if let Some(price) = price.filter(|_| status != SubscriptionStatus::Canceled)
        && let Some(moved) = plan_follow::follow_price(uow, license.id, &price, event).await?
    {
        note = format!("{note}; {moved}");
    }
    Ok(Effect::Applied(format!(
        "subscription {subscription_id} {}; {note}",
        status.as_str()
    )))
}

/// A completed checkout: the subscription it started is known from now on, with the license
/// and price it was for, even before the provider's subscription events (which it may beat or
/// follow); the license moves to the plan bought.
async fn checkout_completed(uow: &mut UnitOfWork<'_>, event: &ProviderEvent) -> AppResult<Effect> {
    if event
        .text("mode")
        .is_some_and(|mode| mode != "subscription")
    {
        return Ok(Effect::Ignored("not a subscription checkout".into()));
    }
    let provider_id = event
        .text("subscription")
        .ok_or_else(|| unusable("a checkout without a subscription"))?;
    let license_id = event
        .data
        .object
        .pointer("/metadata/license_id")
        .and_then(|v| v.as_str())
        .or_else(|| event.text("client_reference_id"))
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| unusable("a checkout that names no license (metadata.license_id)"))?;
    let license = Licenses::find_by_id(license_id)
        .one(&**uow)
        .await?
        .ok_or_else(|| unusable("the checkout's license does not exist"))?;
    let price = plan_follow::price_named(uow, event, &license).await?;
    let now = uow.actor().now;
    let customer = event.text("customer").map(str::to_owned);
    let subscription_id = match find(uow, event, provider_id).await? {
        Some(known) => {
            let mut row: subscriptions::ActiveModel = known.clone().into();
            if known.provider_customer_id.is_none() {
                row.provider_customer_id = Set(customer);
            }
            if known.plan_price_id.is_none() {
                row.plan_price_id = Set(price.as_ref().map(|p| p.id));
            }
            row.updated_at = Set(now.into());
            row.update(&**uow).await?;
            known.id
        }
        None => {
            let id = Uuid::now_v7();
            subscriptions::ActiveModel {
                id: Set(id),
                developer_id: Set(license.developer_id),
                license_id: Set(license.id),
                provider: Set(event.provider.to_owned()),
                provider_subscription_id: Set(provider_id.to_owned()),
                provider_customer_id: Set(customer),
                status: Set(SubscriptionStatus::Incomplete.as_str().to_owned()),
                current_period_start: Set(None),
                current_period_end: Set(None),
                cancel_at_period_end: Set(false),
                // Nothing of the subscription's own state is mirrored yet: any of its events,
                // however old, is newer than this.
                provider_updated_at: Set(DateTime::<Utc>::UNIX_EPOCH.into()),
                created_at: Set(now.into()),
                updated_at: Set(now.into()),
                plan_price_id: Set(price.as_ref().map(|p| p.id)),
                provider_item_id: Set(None),
            }
            .insert(&**uow)
            .await?;
            id
        }
    };
    let moved = match &price {
        Some(price) => plan_follow::follow_price(uow, license.id, price, event).await?,
        None => None,
    };
    Ok(Effect::Applied(format!(
        "checkout of subscription {subscription_id} completed{}",
        moved.map(|m| format!("; {m}")).unwrap_or_default()
    )))
}

/// A paid or failed invoice of a known subscription is recorded with its payment, and moves
/// its license unless the subscription's mirrored state is newer (the money is recorded
/// whatever the order).
async fn invoice_paid(
    uow: &mut UnitOfWork<'_>,
    event: &ProviderEvent,
    paid: bool,
) -> AppResult<Effect> {
    let provider_id = event
        .text("subscription")
        .ok_or_else(|| unusable("an invoice without a subscription"))?;
    // The subscription with its license, in one statement.
    let (known, license) = Subscriptions::find()
        .find_also_related(Licenses)
        .filter(subscriptions::Column::Provider.eq(event.provider))
        .filter(subscriptions::Column::ProviderSubscriptionId.eq(provider_id))
        .one(&**uow)
        .await?
        .ok_or_else(|| unusable("an invoice of a subscription not seen yet"))?;
    let license = license.ok_or_else(|| unusable("the subscription's license does not exist"))?;
    let (invoice_status, payment_status) = if paid {
        (InvoiceStatus::Paid, TransactionStatus::Succeeded)
    } else {
        (InvoiceStatus::Open, TransactionStatus::Failed)
    };
    let invoice = ledger::invoice(uow, event, invoice_status, Some(&known)).await?;
    ledger::payment(uow, event, &invoice, payment_status).await?;
    let at = event.created_at()?;
    if known.provider_updated_at.with_timezone(&Utc) > at {
        return Ok(Effect::Applied(format!(
            "invoice {} recorded; older than the subscription's mirrored state, the license is left as it is",
            invoice.id
        )));
    }
    let mut row: subscriptions::ActiveModel = known.clone().into();
    row.provider_updated_at = Set(at.into());
    row.updated_at = Set(uow.actor().now.into());
    if !paid {
        row.status = Set(SubscriptionStatus::PastDue.as_str().to_owned());
    }
    row.update(&**uow).await?;
    let target = if paid {
        Follow::paid(event.time("period_end"))
    } else {
        Follow::overdue()
    };
    let note = follow(uow, &license, target, event).await?;
    Ok(Effect::Applied(format!(
        "invoice {} recorded; {note}",
        invoice.id
    )))
}

async fn find(
    uow: &UnitOfWork<'_>,
    event: &ProviderEvent,
    provider_id: &str,
) -> AppResult<Option<subscriptions::Model>> {
    Ok(Subscriptions::find()
        .filter(subscriptions::Column::Provider.eq(event.provider))
        .filter(subscriptions::Column::ProviderSubscriptionId.eq(provider_id))
        .one(&**uow)
        .await?)
}

/// Where a payment event moves a license.
struct Follow {
    to: LicenseState,
    payment: PaymentState,
    /// Paid through: the license's expiry moves out to it (never in).
    paid_through: Option<DateTime<Utc>>,
}

impl Follow {
    fn paid(through: Option<DateTime<Utc>>) -> Self {
        Self {
            to: LicenseState::Active,
            payment: PaymentState::Active,
            paid_through: through,
        }
    }

    fn overdue() -> Self {
        Self {
            to: LicenseState::PastDue,
            payment: PaymentState::PastDue,
            paid_through: None,
        }
    }

    fn cancelled() -> Self {
        Self {
            to: LicenseState::Cancelled,
            payment: PaymentState::Cancelled,
            paid_through: None,
        }
    }
}

/// Moves the license as the payment says, if its state machine allows; answers what it did.
/// A license the machine holds where it is (revoked, say) is left so and the note says why:
/// that is the event handled, not failed.
async fn follow(
    uow: &mut UnitOfWork<'_>,
    license: &licenses::Model,
    target: Follow,
    event: &ProviderEvent,
) -> AppResult<String> {
    let now = uow.actor().now;
    let from = LicenseState::from_stored(&license.state)?;
    if from != target.to && transitions::check(from, target.to).is_err() {
        return Ok(format!("the license is {}: left as it is", license.state));
    }
    let expires_at = license.expires_at.map(|t| t.with_timezone(&Utc));
    let extends = target
        .paid_through
        .filter(|through| expires_at.is_none_or(|current| *through > current));
    let unchanged =
        from == target.to && license.payment_state == target.payment.as_str() && extends.is_none();
    if unchanged {
        return Ok(format!("the license is {} already", license.state));
    }
    let mut update = Licenses::update_many()
        .col_expr(licenses::Column::State, Expr::value(target.to.as_str()))
        .col_expr(
            licenses::Column::PaymentState,
            Expr::value(target.payment.as_str()),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now));
    // Overdue: usable until the grace deadline, counted from the first failure only.
    if target.to == LicenseState::PastDue && from != LicenseState::PastDue {
        update = update.col_expr(
            licenses::Column::GraceEndsAt,
            Expr::value(now + GRACE_PERIOD),
        );
    }
    if let Some(through) = extends {
        update = update
            .col_expr(licenses::Column::ExpiresAt, Expr::value(through))
            // A new expiry: its expiring window is announced afresh.
            .col_expr(
                licenses::Column::ExpiringAnnouncedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
    }
    let after = compare_and_set(uow, license, update).await?;
    let metadata = json!({
        "from": license.state, "to": after.state,
        "paymentFrom": license.payment_state, "paymentTo": after.payment_state,
        "rule": format!("payment:{}", event.kind), "eventId": event.id,
    });
    uow.record(change("license.state_changed", &after, metadata).by_platform())
        .await?;
    // Paid for at last (a first payment, or one after a lapse): servers waiting for it start.
    let mut started = 0;
    if target.payment == PaymentState::Active && license.payment_state != target.payment.as_str() {
        started = provision_paid(uow, license.developer_id).await?;
    }
    Ok(format!(
        "the license is {} (was {}){}",
        after.state,
        license.state,
        if started > 0 {
            format!("; {started} dedicated instance(s) provisioning")
        } else {
            String::new()
        }
    ))
}
