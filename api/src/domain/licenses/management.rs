//! Creating, editing and re-keying licenses.

use super::keys::NewKey;
use super::model::{LicenseState, LicenseTerm, PaymentState};
use super::service::{ChangeContext, DEFAULT_PRODUCT, audit_snapshot, record_change, term_length};
use crate::auth::{Caller, RequestMeta, Role};
use crate::domain::plans::service as plans_service;
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

pub struct NewLicense {
    /// Required for admins; a developer always creates for itself.
    pub developer_id: Option<Uuid>,
    pub plan_code: String,
    pub product: Option<String>,
    pub term: Option<LicenseTerm>,
    pub seats_total: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub customer: CustomerFields,
}

/// The customer details a license may carry (dba, zip, agents, SMS credits).
#[derive(Default)]
pub struct CustomerFields {
    pub dba: Option<String>,
    pub zip: Option<String>,
    pub agents: Option<i32>,
    pub sms_credits_purchased: Option<i64>,
    pub sms_credits_sent: Option<i64>,
}

fn check_seats(seats: i32, max: Option<i32>) -> AppResult<()> {
    if seats < 1 {
        return Err(AppError::validation("seatsTotal", "must be at least 1"));
    }
    if max.is_some_and(|max| seats > max) {
        return Err(AppError::validation(
            "seatsTotal",
            "more seats than the plan allows",
        ));
    }
    Ok(())
}

fn check_customer(fields: &CustomerFields) -> AppResult<()> {
    if fields.agents.is_some_and(|a| a < 0) {
        return Err(AppError::validation("agents", "must not be negative"));
    }
    if fields.sms_credits_purchased.is_some_and(|c| c < 0) {
        return Err(AppError::validation(
            "smsCreditsPurchased",
            "must not be negative",
        ));
    }
    if fields.sms_credits_sent.is_some_and(|c| c < 0) {
        return Err(AppError::validation(
            "smsCreditsSent",
            "must not be negative",
        ));
    }
    Ok(())
}

/// Admins create for any developer; a developer creates for itself on a plan it already
/// holds, within that plan's seat limit, in the standing of the license it already has.
#[tracing::instrument(skip_all)]
pub async fn create(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    input: NewLicense,
    now: DateTime<Utc>,
) -> AppResult<(licenses::Model, NewKey)> {
    let (caller_id, role) = caller.require_user()?;
    let plan = plans_service::purchasable(&app.db, &input.plan_code).await?;
    let limits = PlanEntitlements::find_by_id(plan.id).one(&app.db).await?;
    let max_seats = limits.as_ref().and_then(|l| l.max_seats);
    check_customer(&input.customer)?;
    let term = input.term.unwrap_or(if plan.billing_interval == "year" {
        LicenseTerm::Yearly
    } else {
        LicenseTerm::Monthly
    });
    let (developer_id, state, payment, expires_at) = match role {
        Role::Admin => {
            let developer_id = input
                .developer_id
                .ok_or_else(|| AppError::validation("developerId", "required for admins"))?;
            Users::find_by_id(developer_id)
                .filter(entity::users::Column::Role.eq(Role::Developer.as_str()))
                .one(&app.db)
                .await?
                .ok_or_else(|| AppError::validation("developerId", "no developer has this id"))?;
            let expires = input.expires_at.unwrap_or(now + term_length(term));
            (
                developer_id,
                LicenseState::Active.as_str().to_owned(),
                PaymentState::Active.as_str().to_owned(),
                Some(expires),
            )
        }
        Role::Developer => {
            if input.developer_id.is_some_and(|id| id != caller_id) {
                return Err(AppError::Forbidden(
                    "developers create licenses for themselves only",
                ));
            }
            let existing = Licenses::find()
                .filter(licenses::Column::DeveloperId.eq(caller_id))
                .filter(licenses::Column::PlanId.eq(plan.id))
                .one(&app.db)
                .await?
                .ok_or(AppError::Forbidden(
                    "you can only add licenses on a plan you hold",
                ))?;
            (
                caller_id,
                existing.state,
                existing.payment_state,
                existing.expires_at.map(|t| t.with_timezone(&Utc)),
            )
        }
        Role::Member => return Err(AppError::Forbidden("team members cannot create licenses")),
    };
    let seats_total = input.seats_total.or(max_seats).unwrap_or(1);
    check_seats(seats_total, max_seats)?;

    let key = app.license_keys.generate();
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let license = licenses::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(developer_id),
        plan_id: Set(plan.id),
        key_hash: Set(key.digest.clone()),
        key_prefix: Set(key.prefix.clone()),
        product: Set(input.product.unwrap_or_else(|| DEFAULT_PRODUCT.to_owned())),
        term: Set(term.as_str().to_owned()),
        state: Set(state),
        payment_state: Set(payment),
        seats_total: Set(seats_total),
        seats_used: Set(0),
        starts_at: Set(now.into()),
        expires_at: Set(expires_at.map(Into::into)),
        trial_ends_at: Set(None),
        grace_ends_at: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        created_by: Set(Some(caller_id)),
        updated_by: Set(Some(caller_id)),
        notes: Set(input.notes),
        dba: Set(input.customer.dba),
        zip: Set(input.customer.zip),
        agents: Set(input.customer.agents),
        sms_credits_purchased: Set(input.customer.sms_credits_purchased.unwrap_or(0)),
        sms_credits_sent: Set(input.customer.sms_credits_sent.unwrap_or(0)),
    }
    .insert(&*uow)
    .await?;
    record_change(
        &mut uow,
        &ChangeContext { caller, meta, now },
        "license.created",
        &license,
        audit_snapshot(&license),
    )
    .await?;
    uow.commit().await?;
    Ok((license, key))
}

#[derive(Default)]
pub struct LicenseChanges {
    pub product: Option<String>,
    pub plan_code: Option<String>,
    pub term: Option<LicenseTerm>,
    pub seats_total: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub customer: CustomerFields,
}

impl LicenseChanges {
    /// Changes only an admin may make (the rest are the owner's customer details).
    fn touches_terms(&self) -> bool {
        self.product.is_some()
            || self.plan_code.is_some()
            || self.term.is_some()
            || self.seats_total.is_some()
            || self.expires_at.is_some()
    }
}

/// Edits a license. Admins change anything; the owning developer its notes and customer
/// details. Seats can never drop below those in use.
#[tracing::instrument(skip_all)]
pub async fn update(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    changes: LicenseChanges,
    now: DateTime<Utc>,
) -> AppResult<licenses::Model> {
    let (caller_id, _) = caller.require_user()?;
    check_customer(&changes.customer)?;
    if changes.touches_terms() && !caller.is_admin() {
        return Err(AppError::Forbidden("only admins change a license's terms"));
    }
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = Licenses::find_by_id(id)
        .one(&*uow)
        .await?
        .filter(|l| caller.can_see_developer(l.developer_id))
        .ok_or(AppError::NotFound("license"))?;
    let plan_id = match &changes.plan_code {
        Some(code) => {
            plans_service::by_code(&*uow, code)
                .await?
                .ok_or_else(|| AppError::validation("planCode", "no plan has this code"))?
                .id
        }
        None => before.plan_id,
    };
    if let Some(seats) = changes.seats_total {
        let max = PlanEntitlements::find_by_id(plan_id)
            .one(&*uow)
            .await?
            .and_then(|l| l.max_seats);
        check_seats(seats, max)?;
        // Atomic against concurrent assignments: only lowers while the seats in use still fit.
        let fits = Licenses::update_many()
            .col_expr(licenses::Column::SeatsTotal, Expr::value(seats))
            .filter(licenses::Column::Id.eq(id))
            .filter(licenses::Column::SeatsUsed.lte(seats))
            .exec(&*uow)
            .await?;
        if fits.rows_affected == 0 {
            return Err(AppError::validation(
                "seatsTotal",
                format!(
                    "{} seats are in use; unassign some first",
                    before.seats_used
                ),
            ));
        }
    }
    let current = Licenses::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("license"))?;
    let mut edit = current.into_active_model();
    if let Some(product) = changes.product {
        edit.product = Set(product);
    }
    edit.plan_id = Set(plan_id);
    if let Some(term) = changes.term {
        edit.term = Set(term.as_str().to_owned());
    }
    if let Some(expires) = changes.expires_at {
        edit.expires_at = Set(Some(expires.into()));
    }
    if changes.notes.is_some() {
        edit.notes = Set(changes.notes);
    }
    let c = changes.customer;
    if c.dba.is_some() {
        edit.dba = Set(c.dba);
    }
    if c.zip.is_some() {
        edit.zip = Set(c.zip);
    }
    if c.agents.is_some() {
        edit.agents = Set(c.agents);
    }
    if let Some(purchased) = c.sms_credits_purchased {
        edit.sms_credits_purchased = Set(purchased);
    }
    if let Some(sent) = c.sms_credits_sent {
        edit.sms_credits_sent = Set(sent);
    }
    edit.updated_at = Set(now.into());
    edit.updated_by = Set(Some(caller_id));
    let after = edit.update(&*uow).await?;
    record_change(
        &mut uow,
        &ChangeContext { caller, meta, now },
        "license.updated",
        &after,
        json!({ "before": audit_snapshot(&before), "after": audit_snapshot(&after) }),
    )
    .await?;
    uow.commit().await?;
    Ok(after)
}

/// Replaces the key; the old one stops working at once. Admins or the owner.
#[tracing::instrument(skip_all)]
pub async fn regenerate_key(
    app: &AppState,
    caller: &Caller,
    meta: &RequestMeta,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<(licenses::Model, NewKey)> {
    let (caller_id, _) = caller.require_user()?;
    let key = app.license_keys.generate();
    let mut uow = UnitOfWork::begin(&app.db, &app.bus).await?;
    let before = Licenses::find_by_id(id)
        .one(&*uow)
        .await?
        .filter(|l| caller.can_see_developer(l.developer_id))
        .ok_or(AppError::NotFound("license"))?;
    let mut edit = before.clone().into_active_model();
    edit.key_hash = Set(key.digest.clone());
    edit.key_prefix = Set(key.prefix.clone());
    edit.updated_at = Set(now.into());
    edit.updated_by = Set(Some(caller_id));
    let after = edit.update(&*uow).await?;
    record_change(
        &mut uow,
        &ChangeContext { caller, meta, now },
        "license.key_regenerated",
        &after,
        json!({ "oldPrefix": before.key_prefix, "newPrefix": after.key_prefix }),
    )
    .await?;
    uow.commit().await?;
    Ok((after, key))
}
