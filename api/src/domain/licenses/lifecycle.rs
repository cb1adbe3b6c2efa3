//! Moving a license through its state machine: one transaction per change, the row updated
//! only if it is still in the state the change was checked against (compare-and-set), the
//! audit event written inside, the bus event published on commit.

use super::model::{LicenseState, LicenseTerm, PaymentState};
use super::service::{ChangeContext, record_change, term_length};
use super::transitions;
use crate::auth::{Caller, RequestMeta};
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use crate::state::AppState;
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;
use uuid::Uuid;

/// How long a license stays usable in grace after a failed payment.
const GRACE_PERIOD: Duration = Duration::days(7);

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

fn parse_state(license: &licenses::Model) -> AppResult<LicenseState> {
    LicenseState::parse(&license.state)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("license has unknown state")))
}

/// Writes the change only if the license is still in the state it was checked against.
async fn compare_and_set(
    uow: &UnitOfWork,
    before: &licenses::Model,
    update: UpdateMany<Licenses>,
) -> AppResult<licenses::Model> {
    let updated = update
        .filter(licenses::Column::Id.eq(before.id))
        .filter(licenses::Column::State.eq(before.state.as_str()))
        .exec(&**uow)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::Conflict {
            reason: "CONCURRENT_UPDATE",
            message: "the license changed meanwhile; read it again and retry".into(),
        });
    }
    load(&**uow, before.id).await
}

/// Audits, publishes and commits a license change.
async fn finish(
    mut uow: UnitOfWork,
    at: ChangeContext<'_>,
    kind: &str,
    metadata: serde_json::Value,
    after: &licenses::Model,
) -> AppResult<()> {
    record_change(&mut uow, &at, kind, after, metadata).await?;
    uow.commit().await
}

/// Changes state (and payment state) after checking the transition table. Staying in the same
/// state is allowed only to change the payment state. Admins only.
#[tracing::instrument(skip(app, caller, meta, change))]
pub async fn change_state(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    change: StateChange,
    now: DateTime<Utc>,
) -> AppResult<licenses::Model> {
    let actor = caller.require_admin()?;
    let uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = load(&*uow, id).await?;
    let from = parse_state(&before)?;
    let payment_to = change
        .payment
        .map_or_else(|| before.payment_state.clone(), |p| p.as_str().to_owned());
    if from != change.to || payment_to == before.payment_state {
        transitions::check(from, change.to)?;
    }
    let grace_ends_at = match change.to {
        LicenseState::Grace => Some(now + GRACE_PERIOD),
        _ => before.grace_ends_at.map(|t| t.with_timezone(&Utc)),
    };
    let update = Licenses::update_many()
        .col_expr(licenses::Column::State, Expr::value(change.to.as_str()))
        .col_expr(licenses::Column::PaymentState, Expr::value(payment_to))
        .col_expr(licenses::Column::GraceEndsAt, Expr::value(grace_ends_at))
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .col_expr(licenses::Column::UpdatedBy, Expr::value(actor));
    let after = compare_and_set(&uow, &before, update).await?;
    let metadata = json!({
        "from": before.state, "to": after.state,
        "paymentFrom": before.payment_state, "paymentTo": after.payment_state,
    });
    finish(
        uow,
        ChangeContext { caller, meta, now },
        "license.state_changed",
        metadata,
        &after,
    )
    .await?;
    Ok(after)
}

/// Extends expiry by one term, from the current expiry or from now if it has passed, and makes
/// the license active and paid. Admins only.
#[tracing::instrument(skip(app, caller, meta))]
pub async fn renew(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<licenses::Model> {
    let actor = caller.require_admin()?;
    let uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = load(&*uow, id).await?;
    let from = parse_state(&before)?;
    if from != LicenseState::Active {
        transitions::check(from, LicenseState::Active)?;
    }
    let term = LicenseTerm::parse(&before.term).unwrap_or(LicenseTerm::Monthly);
    let base = before
        .expires_at
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t > now)
        .unwrap_or(now);
    let expires_at = base + term_length(term);
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
        .col_expr(
            licenses::Column::GraceEndsAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .col_expr(licenses::Column::UpdatedBy, Expr::value(actor));
    let after = compare_and_set(&uow, &before, update).await?;
    let metadata = json!({
        "from": before.state, "to": after.state,
        "expiresFrom": before.expires_at, "expiresTo": expires_at,
    });
    finish(
        uow,
        ChangeContext { caller, meta, now },
        "license.renewed",
        metadata,
        &after,
    )
    .await?;
    Ok(after)
}

/// A license the caller may see: admins any, developers their own (others are NOT_FOUND).
pub async fn visible(app: &AppState, caller: &Caller, id: Uuid) -> AppResult<licenses::Model> {
    caller.require_user()?;
    let license = load(&app.db, id).await?;
    if !caller.can_see_developer(license.developer_id) {
        return Err(AppError::NotFound("license"));
    }
    Ok(license)
}
