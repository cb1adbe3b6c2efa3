//! Buying through the payment provider: `createCheckoutSession`, `createBillingPortalSession`,
//! `cancelSubscription`, `resumeSubscription`, and `changePlan` for a developer who pays
//! through a subscription. The provider is asked first; what it does comes back as its events
//! (at once from the sandbox, as webhooks from Stripe), handled like any other, so the
//! subscription and license here always follow the provider's word.

use super::model::SubscriptionStatus;
use super::provider::{Hosted, Order, PaymentProvider};
use crate::auth::{Actor, Role};
use crate::domain::entitlements::resolve::USABLE_STATES;
use crate::domain::plans::change::{self, PlanChanged};
use crate::domain::plans::model::BillingInterval;
use crate::domain::plans::service::purchasable;
use crate::error::{AppError, AppResult, ConflictReason};
use entity::{licenses, plan_prices, plans, prelude::*, subscriptions};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use uuid::Uuid;

/// Statuses in which a subscription still bills (or may again).
const LIVE: [SubscriptionStatus; 6] = [
    SubscriptionStatus::Trialing,
    SubscriptionStatus::Active,
    SubscriptionStatus::PastDue,
    SubscriptionStatus::Unpaid,
    SubscriptionStatus::Paused,
    SubscriptionStatus::Incomplete,
];

fn live_statuses() -> Vec<&'static str> {
    LIVE.iter().map(|s| s.as_str()).collect()
}

fn provider(actor: &Actor) -> AppResult<&Arc<dyn PaymentProvider>> {
    actor.app.payments.as_ref().ok_or(AppError::Forbidden(
        "payments are not configured on this gateway",
    ))
}

/// The developer buying: only a developer buys, for itself.
fn buyer(actor: &Actor) -> AppResult<Uuid> {
    match actor.require_user()? {
        (me, Role::Developer) => Ok(me),
        (_, Role::Member) => Err(AppError::Forbidden(
            "billing is the team's developer's to manage",
        )),
        (_, Role::Admin) => Err(AppError::Forbidden("a developer buys for itself")),
    }
}

/// The license a purchase is for: the developer's newest that is not revoked.
async fn current_license(
    conn: &impl ConnectionTrait,
    developer: Uuid,
) -> AppResult<licenses::Model> {
    Licenses::find()
        .filter(licenses::Column::DeveloperId.eq(developer))
        .filter(licenses::Column::State.ne("revoked"))
        .order_by_desc(licenses::Column::Id)
        .one(conn)
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                ConflictReason::LicenseNotUsable,
                "the developer has no license to buy a plan for",
            )
        })
}

/// The license's subscription that still bills, if any.
async fn live_subscription(
    conn: &impl ConnectionTrait,
    license_id: Uuid,
) -> AppResult<Option<subscriptions::Model>> {
    Ok(Subscriptions::find()
        .filter(subscriptions::Column::LicenseId.eq(license_id))
        .filter(subscriptions::Column::Status.is_in(live_statuses()))
        .order_by_desc(subscriptions::Column::Id)
        .one(conn)
        .await?)
}

async fn price_of(
    conn: &impl ConnectionTrait,
    plan: &plans::Model,
    interval: BillingInterval,
) -> AppResult<plan_prices::Model> {
    PlanPrices::find()
        .filter(plan_prices::Column::PlanId.eq(plan.id))
        .filter(plan_prices::Column::Interval.eq(interval.as_str()))
        .one(conn)
        .await?
        .ok_or_else(|| {
            AppError::validation(
                "interval",
                format!("{} is not sold per {}", plan.code, interval.as_str()),
            )
        })
}

/// Starts buying `plan_code` per `interval` for the developer's license: answers the
/// provider's checkout page (the sandbox has completed it already). Refused while the license
/// has a live subscription (change its plan instead), and over the plan's limits.
pub async fn checkout(
    actor: &Actor,
    plan_code: &str,
    interval: BillingInterval,
) -> AppResult<Hosted> {
    let me = buyer(actor)?;
    let provider = provider(actor)?;
    let db = &actor.app.db;
    let plan = purchasable(db, plan_code).await?;
    let price = price_of(db, &plan, interval).await?;
    let license = current_license(db, me).await?;
    if live_subscription(db, license.id).await?.is_some() {
        return Err(ConflictReason::AlreadySubscribed.into());
    }
    let overages = change::over_limits(db, &license, plan.id, actor.now).await?;
    if !overages.is_empty() {
        return Err(AppError::OverLimits(overages));
    }
    let developer = Users::find_by_id(me)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("developer"))?;
    let customer = customer_of(db, me, provider.name()).await?;
    provider
        .checkout(
            actor,
            &Order {
                developer: &developer,
                license_id: license.id,
                plan: &plan,
                price: &price,
                customer_id: customer.as_deref(),
            },
        )
        .await
}

/// The developer's customer at this provider, from its newest subscription there.
async fn customer_of(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    provider: &str,
) -> AppResult<Option<String>> {
    Ok(Subscriptions::find()
        .filter(subscriptions::Column::DeveloperId.eq(developer))
        .filter(subscriptions::Column::Provider.eq(provider))
        .filter(subscriptions::Column::ProviderCustomerId.is_not_null())
        .order_by_desc(subscriptions::Column::Id)
        .one(conn)
        .await?
        .and_then(|s| s.provider_customer_id))
}

/// The provider's page where the developer manages payment details and invoices.
pub async fn portal(actor: &Actor) -> AppResult<Hosted> {
    let me = buyer(actor)?;
    let provider = provider(actor)?;
    let customer = customer_of(&actor.app.db, me, provider.name())
        .await?
        .ok_or(AppError::NotFound("subscription"))?;
    provider.portal(actor, &customer).await
}

/// The subscription named, if the caller may manage it (its developer, or an admin), or the
/// caller's own live one.
async fn managed(actor: &Actor, id: Option<Uuid>) -> AppResult<subscriptions::Model> {
    let db = &actor.app.db;
    let (me, role) = actor.require_user()?;
    let found = match (id, role) {
        (_, Role::Member) => {
            return Err(AppError::Forbidden(
                "billing is the team's developer's to manage",
            ));
        }
        (Some(id), Role::Admin) => Subscriptions::find_by_id(id).one(db).await?,
        (Some(id), _) => {
            Subscriptions::find_by_id(id)
                .filter(subscriptions::Column::DeveloperId.eq(me))
                .one(db)
                .await?
        }
        (None, _) => {
            Subscriptions::find()
                .filter(subscriptions::Column::DeveloperId.eq(me))
                .filter(subscriptions::Column::Status.is_in(live_statuses()))
                .order_by_desc(subscriptions::Column::Id)
                .one(db)
                .await?
        }
    };
    let subscription = found.ok_or(AppError::NotFound("subscription"))?;
    let status = SubscriptionStatus::from_stored(&subscription.status)?;
    if !LIVE.contains(&status) {
        return Err(ConflictReason::SubscriptionEnded.into());
    }
    Ok(subscription)
}

/// The provider for a subscription: the one it was bought through.
fn provider_for<'a>(
    actor: &'a Actor,
    subscription: &subscriptions::Model,
) -> AppResult<&'a Arc<dyn PaymentProvider>> {
    let provider = provider(actor)?;
    if provider.name() != subscription.provider {
        return Err(AppError::validation(
            "subscriptionId",
            "this subscription was bought through another payment provider",
        ));
    }
    Ok(provider)
}

async fn reload(actor: &Actor, id: Uuid) -> AppResult<subscriptions::Model> {
    Subscriptions::find_by_id(id)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("subscription"))
}

/// Cancels a subscription now, or (by default) at the end of the period paid for.
pub async fn cancel(
    actor: &Actor,
    id: Option<Uuid>,
    at_period_end: bool,
) -> AppResult<subscriptions::Model> {
    let subscription = managed(actor, id).await?;
    provider_for(actor, &subscription)?
        .cancel(actor, &subscription, at_period_end)
        .await?;
    reload(actor, subscription.id).await
}

/// Takes back a cancellation due at the period's end.
pub async fn resume(actor: &Actor, id: Option<Uuid>) -> AppResult<subscriptions::Model> {
    let subscription = managed(actor, id).await?;
    if subscription.cancel_at_period_end {
        provider_for(actor, &subscription)?
            .resume(actor, &subscription)
            .await?;
    }
    reload(actor, subscription.id).await
}

/// `changePlan`: a developer paying through a subscription is billed the new plan's price (for
/// the same interval) by the provider first; then the plan changes here as for anyone else.
/// Over the new limits without `force` nothing is asked of the provider.
pub async fn change_plan(
    actor: &Actor,
    developer_id: Uuid,
    plan_code: &str,
    force: bool,
) -> AppResult<PlanChanged> {
    change::authorize(actor, developer_id)?;
    let db = &actor.app.db;
    if let Some(provider) = &actor.app.payments
        && let Ok(license) = current_license(db, developer_id).await
        && USABLE_STATES.contains(&license.state.as_str())
        && let Some(subscription) = live_subscription(db, license.id).await?
        && subscription.provider == provider.name()
    {
        let plan = purchasable(db, plan_code).await?;
        let interval = match subscription.plan_price_id {
            Some(id) => PlanPrices::find_by_id(id)
                .one(db)
                .await?
                .and_then(|p| BillingInterval::parse(&p.interval)),
            None => None,
        }
        .unwrap_or(BillingInterval::Month);
        let price = price_of(db, &plan, interval).await.map_err(|_| {
            AppError::validation(
                "planCode",
                "this plan is not sold per the subscription's interval",
            )
        })?;
        if subscription.plan_price_id != Some(price.id) {
            // What the change itself would refuse is refused before the provider bills it.
            let overages = change::over_limits(db, &license, plan.id, actor.now).await?;
            if !overages.is_empty() && (!force || overages.iter().any(|o| !o.releasable)) {
                return Err(AppError::OverLimits(overages));
            }
            provider.change_price(actor, &subscription, &price).await?;
        }
    }
    change::change_plan(actor, developer_id, plan_code, force).await
}
