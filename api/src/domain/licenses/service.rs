//! License rules. This step: the license a signup starts with.

use super::keys::{LicenseKeys, NewKey};
use super::model::{LicenseState, LicenseTerm, PaymentState};
use crate::auth::{Caller, RequestMeta};
use crate::domain::audit::service::{self as audit, AuditEntry};
use crate::error::AppResult;
use crate::events::{DomainEvent, UnitOfWork};
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, plan_entitlements, plans};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::json;
use uuid::Uuid;

/// Seats granted where the plan sets no limit.
const UNLIMITED_PLAN_SEATS: i32 = 10_000;

/// The product a license covers when none is named.
pub const DEFAULT_PRODUCT: &str = "core";

/// Creates the first license of a new account: trialing until the plan's trial ends, or active
/// at once on a plan without a trial.
pub async fn create_initial(
    conn: &impl ConnectionTrait,
    keys: &LicenseKeys,
    developer_id: Uuid,
    plan: &plans::Model,
    entitlements: Option<&plan_entitlements::Model>,
    trial_ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<(licenses::Model, NewKey)> {
    let key = keys.generate();
    let term = if plan.billing_interval == "year" {
        LicenseTerm::Yearly
    } else {
        LicenseTerm::Monthly
    };
    let (state, payment_state, expires_at) = match trial_ends_at {
        Some(ends) => (
            LicenseState::Trialing,
            PaymentState::NotRequiredForTrial,
            Some(ends),
        ),
        None => (
            LicenseState::Active,
            PaymentState::Active,
            Some(now + term_length(term)),
        ),
    };
    let seats_total = entitlements
        .and_then(|e| e.max_seats)
        .unwrap_or(UNLIMITED_PLAN_SEATS);
    let license = licenses::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(developer_id),
        plan_id: Set(plan.id),
        key_hash: Set(key.digest.clone()),
        key_prefix: Set(key.prefix.clone()),
        product: Set(DEFAULT_PRODUCT.to_owned()),
        term: Set(term.as_str().to_owned()),
        state: Set(state.as_str().to_owned()),
        payment_state: Set(payment_state.as_str().to_owned()),
        seats_total: Set(seats_total),
        seats_used: Set(0),
        starts_at: Set(now.into()),
        expires_at: Set(expires_at.map(Into::into)),
        trial_ends_at: Set(trial_ends_at.map(Into::into)),
        grace_ends_at: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        created_by: Set(Some(developer_id)),
        updated_by: Set(Some(developer_id)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((license, key))
}

pub fn term_length(term: LicenseTerm) -> Duration {
    match term {
        LicenseTerm::Monthly => Duration::days(30),
        LicenseTerm::Yearly => Duration::days(365),
    }
}

/// Who changed a license, from where and when: what every change's audit event records.
pub struct ChangeContext<'a> {
    pub caller: &'a Caller,
    pub meta: &'a RequestMeta,
    pub now: DateTime<Utc>,
}

/// Writes a license change's audit event and queues its bus event, both inside the change's
/// unit of work, so they land (and are seen) exactly when the change commits.
pub async fn record_change(
    uow: &mut UnitOfWork,
    at: &ChangeContext<'_>,
    kind: &str,
    license: &licenses::Model,
    metadata: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        &**uow,
        at.caller,
        at.meta,
        at.now,
        AuditEntry {
            event_type: kind,
            entity_type: "license",
            entity_id: license.id,
            owner_id: Some(license.developer_id),
            metadata,
        },
    )
    .await?;
    uow.publish(event(kind, license, at.now));
    Ok(())
}

/// The event subscribers see for a license change.
pub fn event(kind: &str, license: &licenses::Model, now: DateTime<Utc>) -> DomainEvent {
    DomainEvent {
        kind: kind.to_owned(),
        entity_id: license.id,
        developer_id: Some(license.developer_id),
        data: json!({ "state": license.state, "paymentState": license.payment_state }),
        occurred_at: now,
    }
}

/// What the audit trail keeps of a license: never its key.
pub fn audit_snapshot(license: &licenses::Model) -> serde_json::Value {
    json!({
        "keyPrefix": license.key_prefix,
        "planId": license.plan_id,
        "product": license.product,
        "state": license.state,
        "paymentState": license.payment_state,
        "term": license.term,
        "seatsTotal": license.seats_total,
    })
}
