use super::listing::{self, Listed};
use super::model::{
    InvoiceStatus, SubscriptionStatus, TransactionKind, TransactionStatus, WebhookStatus,
};
use super::provider::Hosted;
use super::{metrics, purchase, revenue, webhooks};
use crate::auth::Audience;
use crate::domain::plans::model::BillingInterval;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Enum, Object, OutputType, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{invoices, subscriptions, transactions, webhook_events};
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

    /// Starts buying a plan for the caller's license: answers the payment provider's checkout
    /// page to send the customer to. The sandbox (no provider key configured) completes the
    /// purchase at once: subscription, invoice, payment and an active license on the plan, by
    /// the same events the provider would send. Developers only, for themselves; refused
    /// while the license has a live subscription (ALREADY_SUBSCRIBED: change its plan) and
    /// over the plan's limits (QUOTA_EXCEEDED, each limit named).
    async fn create_checkout_session(
        &self,
        ctx: &Context<'_>,
        plan_code: String,
        #[graphql(default_with = "BillingInterval::Month")] interval: BillingInterval,
    ) -> Result<HostedSession> {
        let actor = ctx.actor()?;
        Ok(purchase::checkout(actor, &plan_code, interval)
            .await?
            .into())
    }

    /// The payment provider's page where the caller manages payment details and invoices.
    /// Developers with a subscription only.
    async fn create_billing_portal_session(&self, ctx: &Context<'_>) -> Result<HostedSession> {
        let actor = ctx.actor()?;
        Ok(purchase::portal(actor).await?.into())
    }

    /// Cancels a subscription at the end of the period paid for (the license stays usable
    /// until then), or now with `atPeriodEnd: false`. Without `subscriptionId`, the caller's
    /// live one. Its developer or an admin.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        subscription_id: Option<Uuid>,
        #[graphql(default = true)] at_period_end: bool,
    ) -> Result<BillingSubscription> {
        let actor = ctx.actor()?;
        let row = purchase::cancel(actor, subscription_id, at_period_end).await?;
        Ok(shown_or_not_found(actor, row, "subscription")?)
    }

    /// Takes back a cancellation due at the period's end. Its developer or an admin.
    async fn resume_subscription(
        &self,
        ctx: &Context<'_>,
        subscription_id: Option<Uuid>,
    ) -> Result<BillingSubscription> {
        let actor = ctx.actor()?;
        let row = purchase::resume(actor, subscription_id).await?;
        Ok(shown_or_not_found(actor, row, "subscription")?)
    }

    /// Gives a dead letter up: kept, marked discarded, never retried. Admins only.
    async fn discard_failed_webhook(&self, ctx: &Context<'_>, id: Uuid) -> Result<WebhookEvent> {
        let actor = ctx.actor()?;
        let row = webhooks::discard(actor, id).await?;
        Ok(shown_or_not_found(actor, row, "failed webhook")?)
    }
}

/// A subscription as the payment provider reports it, mirrored for the license it pays for.
pub struct BillingSubscription(subscriptions::Model);

impl Guarded for BillingSubscription {
    type Row = subscriptions::Model;

    fn audience(row: &subscriptions::Model) -> Audience {
        Audience::Developer(row.developer_id)
    }

    fn wrap(row: subscriptions::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl BillingSubscription {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn developer_id(&self) -> Uuid {
        self.0.developer_id
    }
    async fn license_id(&self) -> Uuid {
        self.0.license_id
    }
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    async fn provider_subscription_id(&self) -> &str {
        &self.0.provider_subscription_id
    }
    async fn provider_customer_id(&self) -> Option<&str> {
        self.0.provider_customer_id.as_deref()
    }
    async fn status(&self) -> Result<SubscriptionStatus> {
        Ok(SubscriptionStatus::from_stored(&self.0.status)?)
    }
    async fn current_period_start(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_start.map(|t| t.with_timezone(&Utc))
    }
    async fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.0.current_period_end.map(|t| t.with_timezone(&Utc))
    }
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }
    /// The catalogue price it bills (a plan version's), once known.
    async fn plan_price_id(&self) -> Option<Uuid> {
        self.0.plan_price_id
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.with_timezone(&Utc)
    }
}

/// A page of the payment provider's to send the customer to.
#[derive(SimpleObject)]
pub struct HostedSession {
    /// The provider's id for it.
    id: String,
    url: String,
}

impl From<Hosted> for HostedSession {
    fn from(hosted: Hosted) -> Self {
        Self {
            id: hosted.id,
            url: hosted.url,
        }
    }
}

/// An invoice as the payment provider reports it. Amounts in the currency's minor unit.
pub struct Invoice(invoices::Model);

impl Guarded for Invoice {
    type Row = invoices::Model;

    fn audience(row: &invoices::Model) -> Audience {
        Audience::Developer(row.developer_id)
    }

    fn wrap(row: invoices::Model, _: Seen) -> Self {
        Self(row)
    }
}

/// One line of an invoice.
#[derive(SimpleObject)]
pub struct InvoiceLine {
    description: Option<String>,
    amount_minor: Option<i64>,
    quantity: Option<i64>,
}

#[Object]
impl Invoice {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn developer_id(&self) -> Uuid {
        self.0.developer_id
    }
    async fn subscription_id(&self) -> Option<Uuid> {
        self.0.subscription_id
    }
    async fn provider_invoice_id(&self) -> &str {
        &self.0.provider_invoice_id
    }
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }
    async fn status(&self) -> Result<InvoiceStatus> {
        Ok(InvoiceStatus::from_stored(&self.0.status)?)
    }
    /// Lower-case ISO 4217 code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn total_minor(&self) -> i64 {
        self.0.total_minor
    }
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.0.period_start.map(|t| t.with_timezone(&Utc))
    }
    async fn period_end(&self) -> Option<DateTime<Utc>> {
        self.0.period_end.map(|t| t.with_timezone(&Utc))
    }
    async fn lines(&self) -> Vec<InvoiceLine> {
        self.0
            .lines
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|line| InvoiceLine {
                        description: line["description"].as_str().map(str::to_owned),
                        amount_minor: line["amount"].as_i64(),
                        quantity: line["quantity"].as_i64(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

/// Money that moved (or failed to), as the payment provider reports it.
pub struct Transaction(transactions::Model);

impl Guarded for Transaction {
    type Row = transactions::Model;

    fn audience(row: &transactions::Model) -> Audience {
        Audience::Developer(row.developer_id)
    }

    fn wrap(row: transactions::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl Transaction {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn developer_id(&self) -> Uuid {
        self.0.developer_id
    }
    async fn invoice_id(&self) -> Option<Uuid> {
        self.0.invoice_id
    }
    async fn kind(&self) -> Result<TransactionKind> {
        Ok(TransactionKind::from_stored(&self.0.kind)?)
    }
    async fn status(&self) -> Result<TransactionStatus> {
        Ok(TransactionStatus::from_stored(&self.0.status)?)
    }
    async fn amount_minor(&self) -> i64 {
        self.0.amount_minor
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at.with_timezone(&Utc)
    }
}

/// How the revenue report groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ReportGranularity {
    Month,
}

/// One period and currency of the revenue report.
#[derive(SimpleObject)]
pub struct RevenuePeriod {
    period_start: NaiveDate,
    currency: String,
    /// Succeeded payments.
    transactions: i64,
    revenue_minor: i64,
    /// Developers who paid in the period.
    paying_customers: i64,
}

/// A billing list: one page of `E`, shown as `T`, newest first.
async fn billing_page<E, T>(
    ctx: &Context<'_>,
    developer_id: Option<Uuid>,
    first: Option<i32>,
    after: Option<String>,
    id_of: fn(&E::Model) -> Uuid,
) -> Result<PagedConnection<T>>
where
    E: Listed,
    E::Model: Sync,
    T: Guarded<Row = E::Model> + OutputType,
{
    let actor = ctx.actor()?;
    let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
    let developer = listing::scope(actor, developer_id)?;
    let rows = listing::page::<E>(actor, developer, &page).await?;
    let count = listing::count::<E>(actor, developer);
    connection::<T>(ctx, rows, move |_, row| id_cursor(id_of(row)), count).await
}

/// An amount in one currency's minor unit.
#[derive(SimpleObject)]
pub struct MoneyAmount {
    currency: String,
    amount_minor: i64,
}

#[derive(SimpleObject)]
pub struct SubscriptionMetrics {
    active: i64,
    trialing: i64,
    /// Past due or unpaid.
    past_due: i64,
    /// Cancelled within the period asked for.
    churned: i64,
    /// Monthly recurring revenue of the active subscriptions, per currency.
    mrr: Vec<MoneyAmount>,
}

#[derive(Default)]
pub struct MoneyQuery;

#[Object]
impl MoneyQuery {
    /// Subscriptions, newest first: a developer's own; for admins everyone's, or the developer's
    /// named.
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<BillingSubscription>> {
        billing_page::<subscriptions::Entity, BillingSubscription>(
            ctx,
            developer_id,
            first,
            after,
            |r| r.id,
        )
        .await
    }

    /// Invoices, newest first: a developer's own; for admins everyone's, or the developer's named.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<Invoice>> {
        billing_page::<invoices::Entity, Invoice>(ctx, developer_id, first, after, |r| r.id).await
    }

    /// Transactions, newest first: a developer's own; for admins everyone's, or the developer's
    /// named.
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<Transaction>> {
        billing_page::<transactions::Entity, Transaction>(ctx, developer_id, first, after, |r| r.id)
            .await
    }

    /// Subscriptions active, trialing and past due now; cancelled between `from` and `to`; and
    /// the monthly recurring revenue of the active ones per currency. Admins only.
    async fn subscription_metrics(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SubscriptionMetrics> {
        let m = metrics::subscription_metrics(ctx.actor()?, from, to).await?;
        Ok(SubscriptionMetrics {
            active: m.active,
            trialing: m.trialing,
            past_due: m.past_due,
            churned: m.churned,
            mrr: m
                .mrr
                .into_iter()
                .map(|(currency, amount_minor)| MoneyAmount {
                    currency,
                    amount_minor,
                })
                .collect(),
        })
    }

    /// Succeeded transactions, revenue and unique paying customers per month and currency, from
    /// `from` up to `to` (ten years at most). Admins only.
    async fn revenue_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "ReportGranularity::Month")] granularity: ReportGranularity,
    ) -> Result<Vec<RevenuePeriod>> {
        let actor = ctx.actor()?;
        let ReportGranularity::Month = granularity;
        let rows = revenue::monthly(actor, from, to).await?;
        Ok(rows
            .into_iter()
            .map(|row| RevenuePeriod {
                period_start: row.period_start,
                currency: row.currency,
                transactions: row.transactions,
                revenue_minor: row.revenue_minor,
                paying_customers: row.paying_customers,
            })
            .collect())
    }
}
