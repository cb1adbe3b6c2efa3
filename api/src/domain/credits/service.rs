//! A balance is two numbers: what is left of this month's grant (replaced at the next month's
//! start: the rest expires) and what was bought (kept). A spend takes from the grant first. Each
//! write locks its developer, rolls the month over if it has turned (the grant follows the
//! plan and overrides of that moment), writes the balance and its ledger entry and audits the
//! change, in one unit of work. Reads never write: a balance whose month has turned is shown
//! with the new month's grant, exactly as the next write will make it. A spend with a reference
//! is spent once, however often it is sent.

use super::model::{CreditKind, CreditReason};
use crate::auth::{Actor, Caller, Role};
use crate::domain::accounts::service::lock_developer;
use crate::domain::entitlements::resolve::resolve_one;
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::{credit_balances, credit_entries, licenses, prelude::*};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

/// The most one spend or purchase may move.
pub const MAX_AMOUNT: i64 = 1_000_000;

/// A balance as it stands.
pub struct Balance {
    pub kind: CreditKind,
    /// Left of this month's grant.
    pub granted: i64,
    /// Bought, kept from month to month.
    pub purchased: i64,
    /// The plan grants without limit: spends are recorded, never refused.
    pub unlimited: bool,
    pub period_start: DateTime<Utc>,
    /// What the plan grants each month (none: unlimited).
    pub monthly_grant: Option<i64>,
}

impl Balance {
    pub fn available(&self) -> Option<i64> {
        (!self.unlimited).then_some(self.granted + self.purchased)
    }
}

/// The first instant of `now`'s month (UTC): when its grant is due.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

async fn monthly_grant(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    kind: CreditKind,
    now: DateTime<Utc>,
) -> AppResult<Option<i64>> {
    Ok(resolve_one(conn, developer, now)
        .await?
        .limit(kind.entitlement()))
}

/// The developer whose credits the caller reads or spends: a developer its own, an admin the
/// one it names, a runtime node its license's developer.
async fn whose(actor: &Actor, named: Option<Uuid>) -> AppResult<Uuid> {
    match (&actor.caller, named) {
        (
            Caller::User {
                id,
                role: Role::Developer,
            },
            None,
        ) => Ok(*id),
        (
            Caller::User {
                id,
                role: Role::Developer,
            },
            Some(other),
        ) if other == *id => Ok(*id),
        (
            Caller::User {
                role: Role::Developer,
                ..
            },
            Some(_),
        ) => Err(AppError::NotFound("developer")),
        (
            Caller::User {
                role: Role::Admin, ..
            },
            Some(id),
        ) => {
            let developers = Users::find_by_id(id)
                .filter(entity::users::Column::Role.eq(Role::Developer.as_str()))
                .count(&actor.app.db)
                .await?;
            if developers == 0 {
                return Err(AppError::NotFound("developer"));
            }
            Ok(id)
        }
        (
            Caller::User {
                role: Role::Admin, ..
            },
            None,
        ) => Err(AppError::validation(
            "developerId",
            "name the developer whose credits these are",
        )),
        (Caller::LicenseKey { license_id }, None) => Licenses::find_by_id(*license_id)
            .select_only()
            .column(licenses::Column::DeveloperId)
            .into_tuple::<Uuid>()
            .one(&actor.app.db)
            .await?
            .ok_or(AppError::NotFound("license")),
        (Caller::LicenseKey { .. }, Some(_)) => Err(AppError::Forbidden(
            "a license key spends its own developer's credits",
        )),
        _ => actor
            .caller
            .require_user()
            .and(Err(AppError::Forbidden("credits are their developer's"))),
    }
}

async fn stored(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    kind: CreditKind,
) -> AppResult<Option<credit_balances::Model>> {
    Ok(
        CreditBalances::find_by_id((developer, kind.as_str().to_owned()))
            .one(conn)
            .await?,
    )
}

/// The balance `row` (if any) stands at now, with this month's grant.
fn as_of(
    kind: CreditKind,
    row: Option<credit_balances::Model>,
    grant: Option<i64>,
    now: DateTime<Utc>,
) -> Balance {
    let period = month_start(now);
    match row {
        Some(row) if row.period_start.with_timezone(&Utc) >= period => Balance {
            kind,
            granted: row.granted,
            purchased: row.purchased,
            unlimited: row.unlimited,
            period_start: period,
            monthly_grant: grant,
        },
        row => Balance {
            kind,
            granted: grant.unwrap_or(0),
            purchased: row.map_or(0, |r| r.purchased),
            unlimited: grant.is_none(),
            period_start: period,
            monthly_grant: grant,
        },
    }
}

/// Every kind's balance for the developer.
pub async fn balances(actor: &Actor, developer: Option<Uuid>) -> AppResult<Vec<Balance>> {
    let developer = whose(actor, developer).await?;
    let db = &actor.app.db;
    // One resolution of the developer's entitlements serves every kind.
    let entitlements = resolve_one(db, developer, actor.now).await?;
    let mut out = Vec::new();
    for &kind in CreditKind::ALL {
        let grant = entitlements.limit(kind.entitlement());
        out.push(as_of(
            kind,
            stored(db, developer, kind).await?,
            grant,
            actor.now,
        ));
    }
    Ok(out)
}

struct Entry<'a> {
    reason: CreditReason,
    amount: i64,
    period_start: Option<DateTime<Utc>>,
    reference: Option<&'a str>,
}

async fn write_entry(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    kind: CreditKind,
    entry: Entry<'_>,
    (granted_after, purchased_after): (i64, i64),
    now: DateTime<Utc>,
) -> AppResult<()> {
    credit_entries::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(developer),
        kind: Set(kind.as_str().to_owned()),
        reason: Set(entry.reason.as_str().to_owned()),
        amount: Set(entry.amount),
        granted_after: Set(granted_after),
        purchased_after: Set(purchased_after),
        period_start: Set(entry.period_start.map(Into::into)),
        reference: Set(entry.reference.map(str::to_owned)),
        created_at: Set(now.into()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Under the developer's lock: the balance with this month's grant in place, rolled over (the
/// last grant's rest expired, the new one granted, both in the ledger) if the month turned.
async fn rolled_over(
    uow: &mut UnitOfWork<'_>,
    developer: Uuid,
    kind: CreditKind,
) -> AppResult<Balance> {
    let now = uow.actor().now;
    let period = month_start(now);
    let row = stored(&**uow, developer, kind).await?;
    let grant = monthly_grant(&**uow, developer, kind, now).await?;
    let current = row
        .as_ref()
        .is_some_and(|r| r.period_start.with_timezone(&Utc) >= period);
    let left = row.as_ref().map_or(0, |r| r.granted);
    let balance = as_of(kind, row, grant, now);
    if current {
        return Ok(balance);
    }
    save(&**uow, developer, &balance, now).await?;
    if left > 0 {
        let entry = Entry {
            reason: CreditReason::Expired,
            amount: -left,
            period_start: None,
            reference: None,
        };
        write_entry(&**uow, developer, kind, entry, (0, balance.purchased), now).await?;
    }
    let entry = Entry {
        reason: CreditReason::MonthlyGrant,
        amount: balance.granted,
        period_start: Some(period),
        reference: None,
    };
    write_entry(
        &**uow,
        developer,
        kind,
        entry,
        (balance.granted, balance.purchased),
        now,
    )
    .await?;
    uow.record(
        Change::new("credits.granted", "developer", developer)
            .owner(developer)
            .metadata(json!({
                "kind": kind.as_str(), "granted": balance.granted, "unlimited": balance.unlimited,
                "expired": left, "periodStart": period,
            }))
            .by_platform(),
    )
    .await?;
    Ok(balance)
}

async fn save(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    balance: &Balance,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let row = credit_balances::ActiveModel {
        developer_id: Set(developer),
        kind: Set(balance.kind.as_str().to_owned()),
        granted: Set(balance.granted),
        purchased: Set(balance.purchased),
        unlimited: Set(balance.unlimited),
        period_start: Set(balance.period_start.into()),
        updated_at: Set(now.into()),
    };
    CreditBalances::insert(row)
        .on_conflict(
            OnConflict::columns([
                credit_balances::Column::DeveloperId,
                credit_balances::Column::Kind,
            ])
            .update_columns([
                credit_balances::Column::Granted,
                credit_balances::Column::Purchased,
                credit_balances::Column::Unlimited,
                credit_balances::Column::PeriodStart,
                credit_balances::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn checked_amount(amount: i64) -> AppResult<i64> {
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(AppError::validation("amount", "1 to 1,000,000"));
    }
    Ok(amount)
}

fn checked_reference(reference: Option<&str>) -> AppResult<Option<&str>> {
    let Some(reference) = reference.map(str::trim) else {
        return Ok(None);
    };
    let plain = !reference.is_empty()
        && reference.len() <= 200
        && reference.bytes().all(|b| b.is_ascii_graphic());
    if !plain {
        return Err(AppError::validation(
            "reference",
            "1 to 200 printable characters without spaces",
        ));
    }
    Ok(Some(reference))
}

/// Spends `amount` credits: from this month's grant first, then from what was bought; refused
/// whole with QUOTA_EXCEEDED (`limit`: what is available, `current`: what was asked) when the
/// balance would go below zero. A reference spent before answers the balance, spending nothing.
pub async fn spend(
    actor: &Actor,
    developer: Option<Uuid>,
    kind: CreditKind,
    amount: i64,
    reference: Option<&str>,
) -> AppResult<Balance> {
    let amount = checked_amount(amount)?;
    let reference = checked_reference(reference)?;
    let developer = whose(actor, developer).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    lock_developer(&*uow, developer).await?;
    let balance = rolled_over(&mut uow, developer, kind).await?;
    if let Some(reference) = reference {
        let spent = CreditEntries::find()
            .filter(credit_entries::Column::DeveloperId.eq(developer))
            .filter(credit_entries::Column::Kind.eq(kind.as_str()))
            .filter(credit_entries::Column::Reference.eq(reference))
            .count(&*uow)
            .await?;
        if spent > 0 {
            uow.commit().await?;
            return Ok(balance);
        }
    }
    let after = if balance.unlimited {
        balance
    } else {
        let available = balance.granted + balance.purchased;
        if available < amount {
            return Err(AppError::QuotaExceeded {
                metric: kind.metric().to_owned(),
                limit: available,
                current: amount,
                index: None,
            });
        }
        let from_grant = amount.min(balance.granted);
        Balance {
            granted: balance.granted - from_grant,
            purchased: balance.purchased - (amount - from_grant),
            ..balance
        }
    };
    let entry = Entry {
        reason: CreditReason::Spend,
        amount: -amount,
        period_start: None,
        reference,
    };
    settle(uow, developer, entry, after, "credits.spent").await
}

/// Writes the balance after a spend or purchase with its ledger entry and audit, and commits.
async fn settle(
    mut uow: UnitOfWork<'_>,
    developer: Uuid,
    entry: Entry<'_>,
    after: Balance,
    audited_as: &str,
) -> AppResult<Balance> {
    let now = uow.actor().now;
    let kind = after.kind;
    save(&*uow, developer, &after, now).await?;
    let metadata = json!({
        "kind": kind.as_str(), "amount": entry.amount.abs(), "reference": entry.reference,
        "available": after.available(),
    });
    write_entry(
        &*uow,
        developer,
        kind,
        entry,
        (after.granted, after.purchased),
        now,
    )
    .await?;
    uow.record(
        Change::new(audited_as, "developer", developer)
            .owner(developer)
            .metadata(metadata),
    )
    .await?;
    uow.commit().await?;
    Ok(after)
}

/// Adds bought credits, kept from month to month. Admins only.
pub async fn purchase(
    actor: &Actor,
    developer: Uuid,
    kind: CreditKind,
    amount: i64,
    reference: Option<&str>,
) -> AppResult<Balance> {
    actor.require_admin()?;
    let amount = checked_amount(amount)?;
    let reference = checked_reference(reference)?;
    let developer = whose(actor, Some(developer)).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    lock_developer(&*uow, developer).await?;
    let balance = rolled_over(&mut uow, developer, kind).await?;
    let after = Balance {
        purchased: balance.purchased + amount,
        ..balance
    };
    let entry = Entry {
        reason: CreditReason::Purchase,
        amount,
        period_start: None,
        reference,
    };
    settle(uow, developer, entry, after, "credits.purchased").await
}

/// A page of the developer's ledger of one kind, newest first.
pub async fn ledger(
    actor: &Actor,
    developer: Option<Uuid>,
    kind: CreditKind,
    page: &PageArgs,
) -> AppResult<(Uuid, Page<credit_entries::Model>)> {
    actor.require_user()?;
    let developer = whose(actor, developer).await?;
    let mut query = entries(developer, kind).order_by_desc(credit_entries::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(credit_entries::Column::Id.lt(after));
    }
    Ok((developer, paging::fetch(&actor.app.db, query, page).await?))
}

fn entries(developer: Uuid, kind: CreditKind) -> sea_orm::Select<CreditEntries> {
    CreditEntries::find()
        .filter(credit_entries::Column::DeveloperId.eq(developer))
        .filter(credit_entries::Column::Kind.eq(kind.as_str()))
}

pub async fn ledger_count(actor: &Actor, developer: Uuid, kind: CreditKind) -> AppResult<Count> {
    total_count::count(&actor.app, entries(developer, kind)).await
}

/// The scheduler's job: balances whose month has turned are rolled over, a bounded number per
/// run, oldest month first, so every grant is in the ledger from its month's start even for a
/// developer who spends nothing.
pub async fn roll_over_due(actor: &Actor) -> AppResult<u64> {
    let period = month_start(actor.now);
    let due: Vec<(Uuid, String)> = CreditBalances::find()
        .select_only()
        .column(credit_balances::Column::DeveloperId)
        .column(credit_balances::Column::Kind)
        .filter(credit_balances::Column::PeriodStart.lt(period))
        .order_by_asc(credit_balances::Column::PeriodStart)
        .limit(200)
        .into_tuple()
        .all(&actor.app.db)
        .await?;
    let mut moved = 0;
    for (developer, kind) in due {
        let Some(kind) = CreditKind::parse(&kind) else {
            continue;
        };
        let mut uow = UnitOfWork::begin(actor).await?;
        lock_developer(&*uow, developer).await?;
        rolled_over(&mut uow, developer, kind).await?;
        uow.commit().await?;
        moved += 1;
    }
    Ok(moved)
}
