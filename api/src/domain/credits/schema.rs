use super::model::{CreditKind, CreditReason};
use super::service::{self, Balance};
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::credit_entries;
use uuid::Uuid;

/// A developer's credits of one kind as they stand.
#[derive(SimpleObject)]
pub struct CreditBalance {
    kind: CreditKind,
    /// What can be spent now (null: the plan grants without limit).
    available: Option<i64>,
    /// Left of this month's grant; the rest expires when the next month's comes.
    granted: i64,
    /// Bought on top, kept from month to month.
    purchased: i64,
    /// What the plan (with the developer's overrides) grants each month; null: unlimited.
    monthly_grant: Option<i64>,
    /// The start of the month the grant is for (UTC).
    period_start: DateTime<Utc>,
}

impl From<Balance> for CreditBalance {
    fn from(balance: Balance) -> Self {
        Self {
            kind: balance.kind,
            available: balance.available(),
            granted: balance.granted,
            purchased: balance.purchased,
            monthly_grant: balance.monthly_grant,
            period_start: balance.period_start,
        }
    }
}

/// One movement of a balance, with the balance after it.
pub struct CreditEntry(credit_entries::Model);

impl Guarded for CreditEntry {
    type Row = credit_entries::Model;

    fn audience(row: &credit_entries::Model) -> Audience {
        Audience::Developer(row.developer_id)
    }

    fn wrap(row: credit_entries::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl CreditEntry {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn kind(&self) -> Result<CreditKind> {
        Ok(CreditKind::from_stored(&self.0.kind)?)
    }
    async fn reason(&self) -> Result<CreditReason> {
        Ok(CreditReason::from_stored(&self.0.reason)?)
    }
    /// Positive for a grant or purchase, negative for a spend or expiry.
    async fn amount(&self) -> i64 {
        self.0.amount
    }
    async fn granted_after(&self) -> i64 {
        self.0.granted_after
    }
    async fn purchased_after(&self) -> i64 {
        self.0.purchased_after
    }
    /// The month a grant is for.
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.0.period_start.map(|t| t.with_timezone(&Utc))
    }
    /// The spender's or buyer's reference.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

#[derive(Default)]
pub struct CreditsQuery;

#[Object]
impl CreditsQuery {
    /// Each kind's balance: a developer its own, an admin the developer named, a runtime node
    /// (license key) its developer's.
    async fn credit_balances(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
    ) -> Result<Vec<CreditBalance>> {
        let actor = ctx.actor()?;
        let balances = service::balances(actor, developer_id).await?;
        Ok(balances.into_iter().map(Into::into).collect())
    }

    /// Every grant, expiry, purchase and spend of one kind, newest first: a developer its own,
    /// an admin the developer named.
    async fn credit_ledger(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        kind: CreditKind,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<CreditEntry>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let (developer, rows) = service::ledger(actor, developer_id, kind, &page).await?;
        let count = service::ledger_count(actor, developer, kind);
        connection::<CreditEntry>(ctx, rows, |_, row| id_cursor(row.id), count).await
    }
}

#[derive(Default)]
pub struct CreditsMutation;

#[Object]
impl CreditsMutation {
    /// Spends credits, from this month's grant first: the developer itself, an admin for the
    /// developer named, or a runtime node (license key) for its developer. Below zero it is
    /// refused whole (QUOTA_EXCEEDED, `limit` what is available, `current` what was asked). A
    /// `reference` already spent answers the balance and spends nothing, so retries are safe.
    async fn spend_credits(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        kind: CreditKind,
        amount: i64,
        reference: Option<String>,
    ) -> Result<CreditBalance> {
        let actor = ctx.actor()?;
        let balance =
            service::spend(actor, developer_id, kind, amount, reference.as_deref()).await?;
        Ok(balance.into())
    }

    /// Adds bought credits, kept from month to month. Admins only.
    async fn add_credits(
        &self,
        ctx: &Context<'_>,
        developer_id: Uuid,
        kind: CreditKind,
        amount: i64,
        reference: Option<String>,
    ) -> Result<CreditBalance> {
        let actor = ctx.actor()?;
        let balance =
            service::purchase(actor, developer_id, kind, amount, reference.as_deref()).await?;
        Ok(balance.into())
    }
}
