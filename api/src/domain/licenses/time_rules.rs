//! What time does to a license when nobody calls: a trial that ends becomes active if paid
//! (running into its first term), else enters grace (usable until grace ends); a grace period
//! (or a past-due one) that ends expires the license; an active license's term that ends
//! expires it. The scheduler runs these. Each move is its own transaction, written
//! only if the license is still in the state it was found in, audited with the rule that moved
//! it and published on commit, so a rule run twice, or by two gateways at once, moves each
//! license once.

use super::changes::{change, term_length};
use super::lifecycle::{GRACE_PERIOD, compare_and_set};
use super::model::{LicenseState, LicenseTerm, PaymentState};
use super::transitions;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

/// What a moved expiry's announcement is reset to: its window is announced afresh.
const NOT_ANNOUNCED: Option<DateTime<Utc>> = None;

/// Licenses looked at per statement.
const BATCH: u64 = 200;

/// Batches per run at most; what is left is for the next run.
const MAX_BATCHES: usize = 25;

/// A rule: which licenses are due at `now`, and where each goes.
struct Rule {
    name: &'static str,
    due: fn(DateTime<Utc>) -> sea_orm::Select<Licenses>,
    target: fn(&licenses::Model) -> AppResult<LicenseState>,
}

const TRIAL_END: Rule = Rule {
    name: "trial_ended",
    due: |now| {
        Licenses::find()
            .filter(licenses::Column::State.eq(LicenseState::Trialing.as_str()))
            .filter(licenses::Column::TrialEndsAt.lte(now))
            .order_by_asc(licenses::Column::TrialEndsAt)
    },
    target: |license| {
        let paid = PaymentState::parse(&license.payment_state) == Some(PaymentState::Active);
        Ok(if paid {
            LicenseState::Active
        } else {
            LicenseState::Grace
        })
    },
};

const GRACE_END: Rule = Rule {
    name: "grace_ended",
    due: |now| {
        Licenses::find()
            .filter(
                licenses::Column::State
                    .is_in([LicenseState::Grace.as_str(), LicenseState::PastDue.as_str()]),
            )
            .filter(licenses::Column::GraceEndsAt.lte(now))
            .order_by_asc(licenses::Column::GraceEndsAt)
    },
    target: |_| Ok(LicenseState::Expired),
};

/// An active license whose term has run out (trials and grace periods have rules of their own).
const TERM_END: Rule = Rule {
    name: "term_ended",
    due: |now| {
        Licenses::find()
            .filter(licenses::Column::State.eq(LicenseState::Active.as_str()))
            .filter(licenses::Column::ExpiresAt.lte(now))
            .order_by_asc(licenses::Column::ExpiresAt)
    },
    target: |_| Ok(LicenseState::Expired),
};

/// Trials that have ended: active if paid, else in grace.
pub async fn end_trials(actor: &Actor) -> AppResult<u64> {
    apply(actor, &TRIAL_END).await
}

/// Grace and past-due periods that have ended: expired.
pub async fn end_grace(actor: &Actor) -> AppResult<u64> {
    apply(actor, &GRACE_END).await
}

/// Terms that have ended: expired.
pub async fn end_terms(actor: &Actor) -> AppResult<u64> {
    apply(actor, &TERM_END).await
}

/// Moves every license the rule finds due, a batch at a time; answers how many moved.
async fn apply(actor: &Actor, rule: &Rule) -> AppResult<u64> {
    let mut moved = 0;
    for _ in 0..MAX_BATCHES {
        let due = (rule.due)(actor.now)
            .limit(BATCH)
            .all(&actor.app.db)
            .await?;
        let found = due.len() as u64;
        let mut moved_now = 0;
        for license in due {
            if move_one(actor, rule, license).await? {
                moved_now += 1;
            }
        }
        moved += moved_now;
        // A short batch was the last; a batch where nothing moved would be found again.
        if found < BATCH || moved_now == 0 {
            break;
        }
    }
    Ok(moved)
}

/// One license, one transaction; false when another change got there first.
async fn move_one(actor: &Actor, rule: &Rule, before: licenses::Model) -> AppResult<bool> {
    let from = LicenseState::from_stored(&before.state)?;
    let to = (rule.target)(&before)?;
    transitions::check(from, to)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let mut update = Licenses::update_many()
        .col_expr(licenses::Column::State, Expr::value(to.as_str()))
        .col_expr(licenses::Column::UpdatedAt, Expr::value(actor.now));
    let term_ended = before
        .expires_at
        .is_none_or(|at| at.with_timezone(&Utc) <= actor.now);
    match to {
        // Usable until grace ends: the term (a trial's ended with it) reaches as far.
        LicenseState::Grace => {
            let grace_ends_at = actor.now + GRACE_PERIOD;
            update = update
                .col_expr(licenses::Column::GraceEndsAt, Expr::value(grace_ends_at))
                .col_expr(licenses::Column::ExpiresAt, Expr::value(grace_ends_at))
                .col_expr(
                    licenses::Column::ExpiringAnnouncedAt,
                    Expr::value(NOT_ANNOUNCED),
                );
        }
        // A paid trial runs into its first term.
        LicenseState::Active if term_ended => {
            let term = LicenseTerm::from_stored(&before.term)?;
            update = update
                .col_expr(
                    licenses::Column::ExpiresAt,
                    Expr::value(actor.now + term_length(term)),
                )
                .col_expr(
                    licenses::Column::ExpiringAnnouncedAt,
                    Expr::value(NOT_ANNOUNCED),
                );
        }
        _ => {}
    }
    let after = match compare_and_set(&uow, &before, update).await {
        Ok(after) => after,
        Err(AppError::Conflict { .. }) => return Ok(false),
        Err(other) => return Err(other),
    };
    let metadata = json!({
        "from": before.state, "to": after.state, "rule": rule.name,
        "paymentFrom": before.payment_state, "paymentTo": after.payment_state,
    });
    uow.record(change("license.state_changed", &after, metadata).by_platform())
        .await?;
    uow.commit().await?;
    Ok(true)
}

/// Licenses (active or trialing) that have entered their expiring window
/// (`LICENSE_EXPIRING_DAYS`) are announced once, as `license.expiring`; a new expiry is
/// announced again when its window comes.
pub async fn announce_expiring(actor: &Actor) -> AppResult<u64> {
    let now = actor.now;
    let horizon = now + Duration::days(actor.app.config.licensing.expiring_days);
    let live = [LicenseState::Active, LicenseState::Trialing].map(LicenseState::as_str);
    let mut announced = 0;
    for _ in 0..MAX_BATCHES {
        let due = Licenses::find()
            .filter(licenses::Column::State.is_in(live))
            .filter(licenses::Column::ExpiresAt.gt(now))
            .filter(licenses::Column::ExpiresAt.lte(horizon))
            .filter(licenses::Column::ExpiringAnnouncedAt.is_null())
            .order_by_asc(licenses::Column::ExpiresAt)
            .limit(BATCH)
            .all(&actor.app.db)
            .await?;
        let found = due.len() as u64;
        let mut announced_now = 0;
        for license in due {
            let mut uow = UnitOfWork::begin(actor).await?;
            let marked = Licenses::update_many()
                .col_expr(licenses::Column::ExpiringAnnouncedAt, Expr::value(now))
                .filter(licenses::Column::Id.eq(license.id))
                .filter(licenses::Column::ExpiringAnnouncedAt.is_null())
                .filter(licenses::Column::ExpiresAt.lte(horizon))
                .exec(&*uow)
                .await?;
            if marked.rows_affected == 0 {
                continue;
            }
            let days_left = license
                .expires_at
                .map(|at| (at.with_timezone(&Utc) - now).num_days());
            let metadata = json!({ "expiresAt": license.expires_at, "daysLeft": days_left });
            uow.record(change("license.expiring", &license, metadata).by_platform())
                .await?;
            uow.commit().await?;
            announced_now += 1;
        }
        announced += announced_now;
        if found < BATCH || announced_now == 0 {
            break;
        }
    }
    Ok(announced)
}
