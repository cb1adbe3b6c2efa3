//! The money as the provider reports it: invoices (upserted per provider invoice id; a paid one
//! never goes back to open) and transactions (one per payment or failed attempt, unique per
//! provider id; a refund marks the payment refunded). Recorded inside the unit of work of the
//! event that reports them, so a repeated event records nothing twice.

use super::model::{InvoiceStatus, ProviderEvent, TransactionKind, TransactionStatus, unusable};
use crate::error::AppResult;
use crate::events::UnitOfWork;
use entity::{invoices, prelude::*, subscriptions, transactions};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

/// Most invoice lines kept.
const MAX_LINES: usize = 100;

/// Whose an invoice is: its subscription's developer, or a known customer's.
async fn owner(uow: &UnitOfWork<'_>, event: &ProviderEvent) -> AppResult<(Uuid, Option<Uuid>)> {
    let by_subscription = match event.text("subscription") {
        Some(id) => {
            Subscriptions::find()
                .filter(subscriptions::Column::Provider.eq(event.provider))
                .filter(subscriptions::Column::ProviderSubscriptionId.eq(id))
                .one(&**uow)
                .await?
        }
        None => None,
    };
    let known = match by_subscription {
        Some(found) => Some(found),
        None => match event.text("customer") {
            Some(customer) => {
                Subscriptions::find()
                    .filter(subscriptions::Column::Provider.eq(event.provider))
                    .filter(subscriptions::Column::ProviderCustomerId.eq(customer))
                    .one(&**uow)
                    .await?
            }
            None => None,
        },
    };
    let known = known.ok_or_else(|| unusable("an invoice of a subscription not seen yet"))?;
    let subscription = event.text("subscription").map(|_| known.id);
    Ok((known.developer_id, subscription))
}

/// The amount in a field of the event's object, in minor units.
fn amount(event: &ProviderEvent, field: &str) -> i64 {
    event
        .data
        .object
        .get(field)
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The invoice in the event, written with `status` (a paid invoice stays paid). `known` is its
/// subscription when the caller has found it already.
pub async fn invoice(
    uow: &UnitOfWork<'_>,
    event: &ProviderEvent,
    status: InvoiceStatus,
    known: Option<&subscriptions::Model>,
) -> AppResult<invoices::Model> {
    let provider_id = event
        .text("id")
        .ok_or_else(|| unusable("an invoice without an id"))?;
    let (developer, subscription) = match known {
        Some(found) => (found.developer_id, Some(found.id)),
        None => owner(uow, event).await?,
    };
    let now = uow.actor().now;
    let lines: Vec<Value> = event
        .data
        .object
        .pointer("/lines/data")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .take(MAX_LINES)
                .map(|line| {
                    json!({
                        "description": line.get("description").and_then(Value::as_str),
                        "amount": line.get("amount").and_then(Value::as_i64),
                        "quantity": line.get("quantity").and_then(Value::as_i64),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let currency = event.text("currency").unwrap_or("usd").to_lowercase();
    let row = invoices::ActiveModel {
        id: Set(Uuid::now_v7()),
        provider: Set(event.provider.to_owned()),
        provider_invoice_id: Set(provider_id.to_owned()),
        developer_id: Set(developer),
        subscription_id: Set(subscription),
        number: Set(event.text("number").map(str::to_owned)),
        status: Set(status.as_str().to_owned()),
        currency: Set(currency),
        total_minor: Set(amount(event, "total")),
        period_start: Set(event.time("period_start").map(Into::into)),
        period_end: Set(event.time("period_end").map(Into::into)),
        lines: Set(Value::Array(lines)),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    };
    // One statement whatever came before: a new invoice is written, a known one updated (a
    // paid one stays paid), and the row as it stands is answered.
    let paid = InvoiceStatus::Paid.as_str();
    let written = Invoices::insert(row)
        .on_conflict(
            OnConflict::columns([
                invoices::Column::Provider,
                invoices::Column::ProviderInvoiceId,
            ])
            .update_columns([
                invoices::Column::DeveloperId,
                invoices::Column::SubscriptionId,
                invoices::Column::Number,
                invoices::Column::Currency,
                invoices::Column::TotalMinor,
                invoices::Column::PeriodStart,
                invoices::Column::PeriodEnd,
                invoices::Column::Lines,
                invoices::Column::UpdatedAt,
            ])
            .value(
                invoices::Column::Status,
                Expr::cust(format!(
                    "CASE WHEN invoices.status = '{paid}' THEN '{paid}' ELSE excluded.status END"
                )),
            )
            .to_owned(),
        )
        .exec_with_returning(&**uow)
        .await?;
    Ok(written)
}

/// A payment (or a failed attempt) of `invoice`. A payment is known by its charge (or, without
/// one, by its invoice); each failed attempt by its event.
pub async fn payment(
    uow: &UnitOfWork<'_>,
    event: &ProviderEvent,
    invoice: &invoices::Model,
    status: TransactionStatus,
) -> AppResult<()> {
    let (provider_id, amount) = match status {
        TransactionStatus::Succeeded => (
            event.text("charge").map_or_else(
                || format!("invoice:{}", invoice.provider_invoice_id),
                str::to_owned,
            ),
            amount(event, "amount_paid"),
        ),
        _ => (format!("attempt:{}", event.id), amount(event, "amount_due")),
    };
    let now = uow.actor().now;
    let occurred_at = event.created_at()?;
    let row = transactions::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(invoice.developer_id),
        invoice_id: Set(Some(invoice.id)),
        provider: Set(event.provider.to_owned()),
        provider_payment_id: Set(provider_id),
        kind: Set(TransactionKind::Subscription.as_str().to_owned()),
        status: Set(status.as_str().to_owned()),
        amount_minor: Set(amount),
        currency: Set(invoice.currency.clone()),
        occurred_at: Set(occurred_at.into()),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    };
    Transactions::insert(row)
        .on_conflict(
            OnConflict::columns([
                transactions::Column::Provider,
                transactions::Column::ProviderPaymentId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&**uow)
        .await?;
    Ok(())
}

/// `charge.refunded`: the payment it names is refunded.
pub async fn refund(uow: &UnitOfWork<'_>, event: &ProviderEvent) -> AppResult<String> {
    let mut candidates = Vec::new();
    if let Some(charge) = event.text("id") {
        candidates.push(charge.to_owned());
    }
    if let Some(invoice) = event.text("invoice") {
        candidates.push(format!("invoice:{invoice}"));
    }
    let refunded = Transactions::update_many()
        .col_expr(
            transactions::Column::Status,
            Expr::value(TransactionStatus::Refunded.as_str()),
        )
        .col_expr(
            transactions::Column::UpdatedAt,
            Expr::value(uow.actor().now),
        )
        .filter(transactions::Column::Provider.eq(event.provider))
        .filter(transactions::Column::ProviderPaymentId.is_in(candidates))
        .filter(transactions::Column::Status.eq(TransactionStatus::Succeeded.as_str()))
        .exec(&**uow)
        .await?;
    if refunded.rows_affected == 0 {
        return Err(unusable("a refund of a payment not seen yet"));
    }
    Ok("the payment is refunded".to_owned())
}
