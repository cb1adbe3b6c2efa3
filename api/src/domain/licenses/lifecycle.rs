//! Moving a license through its state machine: one transaction per change, the row updated
//! only if it is still in the state the change was checked against (compare-and-set), the
//! audit event written inside, the bus event published on commit.

use super::changes::{change, term_length};
use super::model::{LicenseState, LicenseTerm, PaymentState};
use super::transitions;
use crate::auth::{Actor, Audience};
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::UnitOfWork;
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;
use uuid::Uuid;

/// How long a license stays usable in grace after a failed payment.
pub(crate) const GRACE_PERIOD: Duration = Duration::days(7);

/// A requested change: the target state, and optionally the payment state with it.
pub struct StateChange {
    pub to: LicenseState,
    pub payment: Option<PaymentState>,
}

async fn load(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<licenses::Model> {
    Licenses::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("license"))
}

/// Writes the change only if the license is still in the state it was checked against, and
/// answers the row as written (one statement: the update returns it).
pub(crate) async fn compare_and_set(
    uow: &UnitOfWork<'_>,
    before: &licenses::Model,
    update: UpdateMany<Licenses>,
) -> AppResult<licenses::Model> {
    let written = update
        .filter(licenses::Column::Id.eq(before.id))
        .filter(licenses::Column::State.eq(before.state.as_str()))
        .exec_with_returning(&**uow)
        .await?;
    written.into_iter().next().ok_or_else(|| {
        AppError::conflict(
            ConflictReason::ConcurrentUpdate,
            "it changed meanwhile; read it again and retry",
        )
    })
}

/// Changes state (and payment state) after checking the transition table. Staying in the same
/// state is allowed only to change the payment state. Admins only.
#[tracing::instrument(skip(actor, to))]
pub async fn change_state(actor: &Actor, id: Uuid, to: StateChange) -> AppResult<licenses::Model> {
    let admin = actor.require_admin()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = load(&*uow, id).await?;
    let from = LicenseState::from_stored(&before.state)?;
    let payment_to = to
        .payment
        .map_or_else(|| before.payment_state.clone(), |p| p.as_str().to_owned());
    if from != to.to || payment_to == before.payment_state {
        transitions::check(from, to.to)?;
    }
    let grace_ends_at = match to.to {
        LicenseState::Grace => Some(actor.now + GRACE_PERIOD),
        _ => before.grace_ends_at.map(|t| t.with_timezone(&Utc)),
    };
    let update = Licenses::update_many()
        .col_expr(licenses::Column::State, Expr::value(to.to.as_str()))
        .col_expr(licenses::Column::PaymentState, Expr::value(payment_to))
        .col_expr(licenses::Column::GraceEndsAt, Expr::value(grace_ends_at))
        .col_expr(licenses::Column::UpdatedAt, Expr::value(actor.now))
        .col_expr(licenses::Column::UpdatedBy, Expr::value(admin));
    let after = compare_and_set(&uow, &before, update).await?;
    let metadata = json!({
        "from": before.state, "to": after.state,
        "paymentFrom": before.payment_state, "paymentTo": after.payment_state,
    });
    uow.record(change("license.state_changed", &after, metadata))
        .await?;
    uow.commit().await?;
    if to.to == LicenseState::Revoked {
        // A revoked key opens nothing: sockets opened with it close now, on every gateway.
        actor.app.liveness.forget(&actor.app.bus, &[after.id]).await;
    }
    Ok(after)
}

/// Extends expiry by one term, from the current expiry or from now if it has passed, and makes
/// the license active and paid. Admins only.
#[tracing::instrument(skip(actor))]
pub async fn renew(actor: &Actor, id: Uuid) -> AppResult<licenses::Model> {
    let admin = actor.require_admin()?;
    let now = actor.now;
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = load(&*uow, id).await?;
    let from = LicenseState::from_stored(&before.state)?;
    if from != LicenseState::Active {
        transitions::check(from, LicenseState::Active)?;
    }
    let term = LicenseTerm::from_stored(&before.term)?;
    let base = before
        .expires_at
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t > now)
        .unwrap_or(now);
    let expires_at = base.checked_add_signed(term_length(term)).ok_or_else(|| {
        AppError::validation("id", "the license's expiry cannot be extended further")
    })?;
    let update = Licenses::update_many()
        .col_expr(
            licenses::Column::State,
            Expr::value(LicenseState::Active.as_str()),
        )
        .col_expr(
            licenses::Column::PaymentState,
            Expr::value(PaymentState::Active.as_str()),
        )
        .col_expr(licenses::Column::ExpiresAt, Expr::value(expires_at))
        // A new expiry: its expiring window is announced afresh.
        .col_expr(
            licenses::Column::ExpiringAnnouncedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            licenses::Column::GraceEndsAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .col_expr(licenses::Column::UpdatedBy, Expr::value(admin));
    let after = compare_and_set(&uow, &before, update).await?;
    let metadata = json!({
        "from": before.state, "to": after.state,
        "expiresFrom": before.expires_at, "expiresTo": expires_at,
    });
    uow.record(change("license.renewed", &after, metadata))
        .await?;
    uow.commit().await?;
    Ok(after)
}

/// A license the caller may see (its developer, its seat holders, admins); to anyone else it
/// does not exist.
pub async fn visible(actor: &Actor, id: Uuid) -> AppResult<licenses::Model> {
    actor.require_user()?;
    let license = load(&actor.app.db, id).await?;
    let audience = Audience::License {
        id: license.id,
        developer: license.developer_id,
    };
    if !actor.may_see(audience) {
        return Err(AppError::NotFound("license"));
    }
    Ok(license)
}
