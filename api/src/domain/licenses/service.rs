//! Issuing, editing and re-keying licenses: the first license of a signup, licenses an admin
//! or a developer adds, and their edits.

use super::changes::{audit_snapshot, change, term_length};
use super::keys::NewKey;
use super::model::{LicenseState, LicenseTerm, PaymentState};
use crate::auth::{Actor, Role};
use crate::domain::plans::model::BillingInterval;
use crate::domain::plans::service as plans_service;
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use chrono::{DateTime, Utc};
use entity::{licenses, plan_entitlements, plans, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Seats granted where the plan sets no limit.
const UNLIMITED_PLAN_SEATS: i32 = 10_000;

/// The product a license covers when none is named.
pub const DEFAULT_PRODUCT: &str = "core";

/// The term a plan sells by default.
fn plan_term(plan: &plans::Model) -> LicenseTerm {
    match BillingInterval::parse(&plan.billing_interval) {
        Some(BillingInterval::Year) => LicenseTerm::Yearly,
        _ => LicenseTerm::Monthly,
    }
}

/// Everything a new license row needs besides its key and time.
struct Issue {
    developer_id: Uuid,
    plan_id: Uuid,
    product: String,
    term: LicenseTerm,
    state: LicenseState,
    payment: PaymentState,
    seats_total: i32,
    expires_at: Option<DateTime<Utc>>,
    trial_ends_at: Option<DateTime<Utc>>,
    notes: Option<String>,
    customer: CustomerFields,
}

/// Inserts the license under a fresh key and records `license.created`.
async fn issue(uow: &mut UnitOfWork<'_>, issue: Issue) -> AppResult<(licenses::Model, NewKey)> {
    let actor = uow.actor();
    let now = actor.now;
    let by = actor.caller.audit_actor().1;
    let key = actor.app.license_keys.generate();
    let license = licenses::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(issue.developer_id),
        plan_id: Set(issue.plan_id),
        key_hash: Set(key.digest.clone()),
        key_prefix: Set(key.prefix.clone()),
        product: Set(issue.product),
        term: Set(issue.term.as_str().to_owned()),
        state: Set(issue.state.as_str().to_owned()),
        payment_state: Set(issue.payment.as_str().to_owned()),
        seats_total: Set(issue.seats_total),
        seats_used: Set(0),
        starts_at: Set(now.into()),
        expires_at: Set(issue.expires_at.map(Into::into)),
        trial_ends_at: Set(issue.trial_ends_at.map(Into::into)),
        grace_ends_at: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        created_by: Set(by),
        updated_by: Set(by),
        notes: Set(issue.notes),
        dba: Set(issue.customer.dba),
        zip: Set(issue.customer.zip),
        agents: Set(issue.customer.agents),
        sms_credits_purchased: Set(issue.customer.sms_credits_purchased.unwrap_or(0)),
        sms_credits_sent: Set(issue.customer.sms_credits_sent.unwrap_or(0)),
        expiring_announced_at: Set(None),
    }
    .insert(&**uow)
    .await?;
    uow.record(change(
        "license.created",
        &license,
        audit_snapshot(&license),
    ))
    .await?;
    Ok((license, key))
}

/// The first license of a new account (its actor is the new developer): trialing until the
/// plan's trial ends, or active at once on a plan without a trial.
pub async fn issue_initial(
    uow: &mut UnitOfWork<'_>,
    developer_id: Uuid,
    plan: &plans::Model,
    entitlements: Option<&plan_entitlements::Model>,
    trial_ends_at: Option<DateTime<Utc>>,
) -> AppResult<(licenses::Model, NewKey)> {
    let term = plan_term(plan);
    let (state, payment, expires_at) = match trial_ends_at {
        Some(ends) => (
            LicenseState::Trialing,
            PaymentState::NotRequiredForTrial,
            ends,
        ),
        None => (
            LicenseState::Active,
            PaymentState::Active,
            uow.actor().now + term_length(term),
        ),
    };
    let seats_total = entitlements
        .and_then(|e| e.max_seats)
        .unwrap_or(UNLIMITED_PLAN_SEATS);
    let new = Issue {
        developer_id,
        plan_id: plan.id,
        product: DEFAULT_PRODUCT.to_owned(),
        term,
        state,
        payment,
        seats_total,
        expires_at: Some(expires_at),
        trial_ends_at,
        notes: None,
        customer: CustomerFields::default(),
    };
    issue(uow, new).await
}

/// A license's terms and details as a caller gives them: absent ones take their defaults when
/// a license is issued and stay as they are when it is edited.
#[derive(Default)]
pub struct LicenseFields {
    pub product: Option<String>,
    pub term: Option<LicenseTerm>,
    pub seats_total: Option<i32>,
    pub expires_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub customer: CustomerFields,
}

pub struct NewLicense {
    /// Required for admins; a developer always creates for itself.
    pub developer_id: Option<Uuid>,
    pub plan_code: String,
    pub fields: LicenseFields,
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
pub async fn create(actor: &Actor, input: NewLicense) -> AppResult<(licenses::Model, NewKey)> {
    let (caller_id, role) = actor.require_user()?;
    let db = &actor.app.db;
    let plan = plans_service::purchasable(db, &input.plan_code).await?;
    let limits = PlanEntitlements::find_by_id(plan.id).one(db).await?;
    let max_seats = limits.as_ref().and_then(|l| l.max_seats);
    let fields = input.fields;
    check_customer(&fields.customer)?;
    let term = fields.term.unwrap_or_else(|| plan_term(&plan));
    let (developer_id, state, payment, expires_at) = match role {
        Role::Admin => {
            let developer_id = input
                .developer_id
                .ok_or_else(|| AppError::validation("developerId", "required for admins"))?;
            Users::find_by_id(developer_id)
                .filter(entity::users::Column::Role.eq(Role::Developer.as_str()))
                .one(db)
                .await?
                .ok_or_else(|| AppError::validation("developerId", "no developer has this id"))?;
            let expires = fields.expires_at.unwrap_or(actor.now + term_length(term));
            (
                developer_id,
                LicenseState::Active,
                PaymentState::Active,
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
                .one(db)
                .await?
                .ok_or(AppError::Forbidden(
                    "you can only add licenses on a plan you hold",
                ))?;
            (
                caller_id,
                LicenseState::from_stored(&existing.state)?,
                PaymentState::from_stored(&existing.payment_state)?,
                existing.expires_at.map(|t| t.with_timezone(&Utc)),
            )
        }
        Role::Member => return Err(AppError::Forbidden("team members cannot create licenses")),
    };
    let seats_total = fields.seats_total.or(max_seats).unwrap_or(1);
    check_seats(seats_total, max_seats)?;

    let mut uow = UnitOfWork::begin(actor).await?;
    let new = Issue {
        developer_id,
        plan_id: plan.id,
        product: fields.product.unwrap_or_else(|| DEFAULT_PRODUCT.to_owned()),
        term,
        state,
        payment,
        seats_total,
        expires_at,
        trial_ends_at: None,
        notes: fields.notes,
        customer: fields.customer,
    };
    let issued = issue(&mut uow, new).await?;
    uow.commit().await?;
    Ok(issued)
}

/// The license, if the actor may change it: admins any, developers their own.
async fn owned(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> AppResult<licenses::Model> {
    Licenses::find_by_id(id)
        .one(conn)
        .await?
        .filter(|l| actor.manages(l.developer_id))
        .ok_or(AppError::NotFound("license"))
}

#[derive(Default)]
pub struct LicenseChanges {
    pub plan_code: Option<String>,
    pub fields: LicenseFields,
}

impl LicenseChanges {
    /// Changes only an admin may make (the rest are the owner's customer details).
    fn touches_terms(&self) -> bool {
        let f = &self.fields;
        self.plan_code.is_some()
            || f.product.is_some()
            || f.term.is_some()
            || f.seats_total.is_some()
            || f.expires_at.is_some()
    }
}

/// Edits a license. Admins change anything; the owning developer its notes and customer
/// details. Seats can never drop below those in use.
#[tracing::instrument(skip_all)]
pub async fn update(
    actor: &Actor,
    id: Uuid,
    changes: LicenseChanges,
) -> AppResult<licenses::Model> {
    let (caller_id, _) = actor.require_user()?;
    check_customer(&changes.fields.customer)?;
    if changes.touches_terms() && !actor.is_admin() {
        return Err(AppError::Forbidden("only admins change a license's terms"));
    }
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = owned(&*uow, actor, id).await?;
    let plan_id = match &changes.plan_code {
        Some(code) => {
            plans_service::by_code(&*uow, code)
                .await?
                .ok_or_else(|| AppError::validation("planCode", "no plan has this code"))?
                .id
        }
        None => before.plan_id,
    };
    let fields = changes.fields;
    if let Some(seats) = fields.seats_total {
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
    if let Some(product) = fields.product {
        edit.product = Set(product);
    }
    edit.plan_id = Set(plan_id);
    if let Some(term) = fields.term {
        edit.term = Set(term.as_str().to_owned());
    }
    if let Some(expires) = fields.expires_at {
        edit.expires_at = Set(Some(expires.into()));
    }
    if fields.notes.is_some() {
        edit.notes = Set(fields.notes);
    }
    let c = fields.customer;
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
    edit.updated_at = Set(actor.now.into());
    edit.updated_by = Set(Some(caller_id));
    let after = edit.update(&*uow).await?;
    let metadata = json!({ "before": audit_snapshot(&before), "after": audit_snapshot(&after) });
    uow.record(change("license.updated", &after, metadata))
        .await?;
    uow.commit().await?;
    Ok(after)
}

/// Replaces the key; the old one stops working at once. Admins or the owner.
#[tracing::instrument(skip_all)]
pub async fn regenerate_key(actor: &Actor, id: Uuid) -> AppResult<(licenses::Model, NewKey)> {
    let (caller_id, _) = actor.require_user()?;
    let key = actor.app.license_keys.generate();
    let mut uow = UnitOfWork::begin(actor).await?;
    let before = owned(&*uow, actor, id).await?;
    let mut edit = before.clone().into_active_model();
    edit.key_hash = Set(key.digest.clone());
    edit.key_prefix = Set(key.prefix.clone());
    edit.updated_at = Set(actor.now.into());
    edit.updated_by = Set(Some(caller_id));
    let after = edit.update(&*uow).await?;
    let metadata = json!({ "oldPrefix": before.key_prefix, "newPrefix": after.key_prefix });
    uow.record(change("license.key_regenerated", &after, metadata))
        .await?;
    uow.commit().await?;
    // Sockets opened with the old key close now, on every gateway.
    actor.app.liveness.forget(&actor.app.bus, &[after.id]).await;
    Ok((after, key))
}
