//! Which plan a subscription pays for, and the license following it. The price an event names
//! is found by the provider's price id (the one in the subscription's item, so a change made in
//! the provider's own pages counts), else by the price the checkout was for (its metadata). A
//! license already on a version of the plan selling that price stays on it; otherwise it moves
//! to the price's plan version, by the platform, audited with the event that moved it.

use super::model::ProviderEvent;
use crate::domain::licenses::changes::change;
use crate::error::AppResult;
use crate::events::UnitOfWork;
use entity::{licenses, plan_prices, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

/// The price the event's object names, if it is one of the catalogue's.
pub async fn price_named(
    uow: &UnitOfWork<'_>,
    event: &ProviderEvent,
    license: &licenses::Model,
) -> AppResult<Option<plan_prices::Model>> {
    let object = &event.data.object;
    if let Some(provider_price) = object
        .pointer("/items/data/0/price/id")
        .and_then(Value::as_str)
    {
        let mut found = PlanPrices::find()
            .filter(plan_prices::Column::ProviderPriceId.eq(provider_price))
            .order_by_desc(plan_prices::Column::CreatedAt)
            .all(&**uow)
            .await?;
        if !found.is_empty() {
            // The license's own version first: a newer version selling the same price does
            // not move it.
            let own = found.iter().position(|p| p.plan_id == license.plan_id);
            return Ok(Some(found.swap_remove(own.unwrap_or(0))));
        }
    }
    let Some(id) = object
        .pointer("/metadata/plan_price_id")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    Ok(PlanPrices::find_by_id(id).one(&**uow).await?)
}

/// Moves the license to the price's plan version unless it is on it; answers what it did.
pub async fn follow_price(
    uow: &mut UnitOfWork<'_>,
    license_id: Uuid,
    price: &plan_prices::Model,
    event: &ProviderEvent,
) -> AppResult<Option<String>> {
    let Some(license) = Licenses::find_by_id(license_id).one(&**uow).await? else {
        return Ok(None);
    };
    if license.plan_id == price.plan_id {
        return Ok(None);
    }
    let seats = PlanEntitlements::find_by_id(price.plan_id)
        .one(&**uow)
        .await?
        .and_then(|row| row.max_seats)
        .map_or(license.seats_total, |limit| limit.max(1));
    let now = uow.actor().now;
    let written = Licenses::update_many()
        .col_expr(licenses::Column::PlanId, Expr::value(price.plan_id))
        .col_expr(licenses::Column::SeatsTotal, Expr::value(seats))
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .filter(licenses::Column::Id.eq(license.id))
        .exec_with_returning(&**uow)
        .await?;
    let Some(after) = written.into_iter().next() else {
        return Ok(None);
    };
    let metadata = json!({
        "fromPlanId": license.plan_id,
        "toPlanId": price.plan_id,
        "priceId": price.id,
        "rule": format!("payment:{}", event.kind),
        "eventId": event.id,
    });
    uow.record(change("license.plan_changed", &after, metadata).by_platform())
        .await?;
    Ok(Some("the license follows the price's plan".to_owned()))
}
