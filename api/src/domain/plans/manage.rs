//! The catalogue as admins keep it: `createPlan`, `updatePlan`, `retirePlan`.
//!
//! A plan's code names a line of versions. Changing what a plan grants or costs adds a version
//! and makes it the latest; licenses and subscriptions stay on the version they were sold on
//! (their entitlements and price do not move under them) until they change plan. A new name or
//! trial length is written on the latest version itself. Retiring takes the latest version off
//! sale; what was sold on it goes on.

use super::model::BillingInterval;
use crate::domain::entitlements::catalogue;
use crate::domain::plans::seed::DEFAULT_HEARTBEAT_WINDOW_SECONDS;
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, Event, UnitOfWork};
use entity::{plan_entitlements, plan_prices, plans, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// One price of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceSpec {
    pub interval: BillingInterval,
    /// In the currency's minor unit.
    pub amount_minor: i64,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    /// The payment provider's price for it, e.g. `price_1Q...`; none: not sold through it.
    pub provider_price_id: Option<String>,
}

pub struct NewPlan {
    pub code: String,
    pub name: String,
    pub trial_days: i32,
    pub prices: Vec<PriceSpec>,
    /// Entitlement keys and values (`max_seats`, `feature.sso`, ...); the rest grant nothing.
    pub entitlements: Map<String, Value>,
}

/// What to change; what is left out stays.
#[derive(Default)]
pub struct PlanEdit {
    pub name: Option<String>,
    pub trial_days: Option<i32>,
    /// The version's prices in full.
    pub prices: Option<Vec<PriceSpec>>,
    /// Keys to set on top of the latest version's entitlements.
    pub entitlements: Option<Map<String, Value>>,
}

const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

fn code(raw: &str) -> AppResult<String> {
    let code = raw.trim().to_lowercase();
    let valid = (1..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if !valid {
        return Err(AppError::validation(
            "code",
            "1 to 40 lower-case letters, digits, `_` or `-`",
        ));
    }
    Ok(code)
}

fn name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "name",
            "1 to 100 printable characters",
        ));
    }
    Ok(name.to_owned())
}

fn trial_days(days: i32) -> AppResult<i32> {
    if !(0..=365).contains(&days) {
        return Err(AppError::validation("trialDays", "0 to 365"));
    }
    Ok(days)
}

fn prices(specs: Vec<PriceSpec>) -> AppResult<Vec<PriceSpec>> {
    let invalid = |message: &str| AppError::validation("prices", message.to_owned());
    if specs.is_empty() || specs.len() > 2 {
        return Err(invalid("one price per interval: month, year or both"));
    }
    if specs.len() == 2 && specs[0].interval == specs[1].interval {
        return Err(invalid("one price per interval: month, year or both"));
    }
    specs
        .into_iter()
        .map(|spec| {
            if !(0..=MAX_AMOUNT_MINOR).contains(&spec.amount_minor) {
                return Err(invalid("an amount is 0 to 10,000,000,000 minor units"));
            }
            let currency = spec.currency.trim().to_uppercase();
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(invalid("a currency is a three-letter ISO 4217 code"));
            }
            let provider_price_id = spec
                .provider_price_id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty());
            if let Some(id) = &provider_price_id
                && (id.len() > 255
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')))
            {
                return Err(invalid(
                    "a provider price id is plain text such as `price_123`",
                ));
            }
            Ok(PriceSpec {
                currency,
                provider_price_id,
                ..spec
            })
        })
        .collect()
}

/// What a plan grants when nothing is said: nothing.
fn granting_nothing(plan_id: Uuid) -> plan_entitlements::Model {
    plan_entitlements::Model {
        plan_id,
        max_customers: Some(0),
        max_workspaces: Some(0),
        max_ai_employees: Some(0),
        max_team_members: Some(0),
        max_runtime_nodes: Some(0),
        max_seats: Some(0),
        white_label_basic: false,
        support_level: "community".to_owned(),
        db_type: "shared".to_owned(),
        storage_quota_bytes: Some(0),
        daily_api_requests: Some(0),
        features: json!({}),
        heartbeat_window_seconds: DEFAULT_HEARTBEAT_WINDOW_SECONDS,
        monthly_mail_credits: Some(0),
        monthly_letters: Some(0),
        monthly_sms_credits: Some(0),
        allow_overage: false,
    }
}

fn entitle(row: &mut plan_entitlements::Model, values: &Map<String, Value>) -> AppResult<()> {
    if values.len() > 100 {
        return Err(AppError::validation("entitlements", "at most 100 keys"));
    }
    for (key, value) in values {
        catalogue::set_on_plan(row, key, value)
            .map_err(|reason| AppError::validation("entitlements", format!("{key}: {reason}")))?;
    }
    Ok(())
}

/// The price a plan shows first, and sorts by: monthly if it has one.
fn headline(prices: &[PriceSpec]) -> &PriceSpec {
    prices
        .iter()
        .find(|p| p.interval == BillingInterval::Month)
        .unwrap_or(&prices[0])
}

fn snapshot(plan: &plans::Model, prices: &[PriceSpec], row: &plan_entitlements::Model) -> Value {
    json!({
        "code": plan.code,
        "version": plan.version,
        "name": plan.name,
        "trialDays": plan.trial_days,
        "active": plan.active,
        "prices": prices.iter().map(|p| json!({
            "interval": p.interval.as_str(),
            "amountMinor": p.amount_minor,
            "currency": p.currency,
            "providerPriceId": p.provider_price_id,
        })).collect::<Vec<_>>(),
        "entitlements": catalogue::from_plan(row),
    })
}

/// A catalogue change: audited and published to admins (plans belong to no developer).
fn plan_change(kind: &str, plan: &plans::Model, metadata: Value) -> Change {
    Change::new(kind, "plan", plan.id)
        .metadata(metadata)
        .publish(Event {
            kind: kind.to_owned(),
            entity_id: plan.id,
            developer_id: None,
            data: json!({ "code": plan.code, "version": plan.version, "active": plan.active }),
        })
}

async fn write_version(
    uow: &UnitOfWork<'_>,
    plan: plans::Model,
    prices: &[PriceSpec],
    entitlements: plan_entitlements::Model,
) -> AppResult<plans::Model> {
    let now = uow.actor().now;
    let plan = plan.into_active_model().reset_all().insert(&**uow).await?;
    entitlements
        .into_active_model()
        .reset_all()
        .insert(&**uow)
        .await?;
    for spec in prices {
        plan_prices::ActiveModel {
            id: Set(Uuid::now_v7()),
            plan_id: Set(plan.id),
            interval: Set(spec.interval.as_str().to_owned()),
            amount_minor: Set(spec.amount_minor),
            currency: Set(spec.currency.clone()),
            provider_price_id: Set(spec.provider_price_id.clone()),
            created_at: Set(now.into()),
        }
        .insert(&**uow)
        .await?;
    }
    Ok(plan)
}

fn with_headline(mut plan: plans::Model, prices: &[PriceSpec]) -> plans::Model {
    let first = headline(prices);
    plan.price_minor = first.amount_minor;
    plan.currency = first.currency.clone();
    plan.billing_interval = first.interval.as_str().to_owned();
    plan
}

pub async fn create(actor: &crate::auth::Actor, new: NewPlan) -> AppResult<plans::Model> {
    actor.require_admin()?;
    let now = actor.now;
    let code = code(&new.code)?;
    let prices = prices(new.prices)?;
    let id = Uuid::now_v7();
    let mut entitlements = granting_nothing(id);
    entitle(&mut entitlements, &new.entitlements)?;
    let plan = with_headline(
        plans::Model {
            id,
            code,
            name: name(&new.name)?,
            price_minor: 0,
            currency: String::new(),
            billing_interval: String::new(),
            trial_days: trial_days(new.trial_days)?,
            active: true,
            created_at: now.into(),
            updated_at: now.into(),
            version: 1,
            latest: true,
            retired_at: None,
        },
        &prices,
    );
    let mut uow = UnitOfWork::begin(actor).await?;
    let taken = Plans::find()
        .filter(plans::Column::Code.eq(&plan.code))
        .one(&*uow)
        .await?
        .is_some();
    if taken {
        return Err(AppError::conflict(
            ConflictReason::PlanCodeTaken,
            "a plan has this code: update it instead",
        ));
    }
    let plan = write_version(&uow, plan, &prices, entitlements.clone()).await?;
    let metadata = json!({ "after": snapshot(&plan, &prices, &entitlements) });
    uow.record(plan_change("plan.created", &plan, metadata))
        .await?;
    uow.commit().await?;
    Ok(plan)
}

async fn latest(uow: &UnitOfWork<'_>, code: &str) -> AppResult<plans::Model> {
    Plans::find()
        .filter(plans::Column::Code.eq(code.trim().to_lowercase()))
        .filter(plans::Column::Latest.eq(true))
        .one(&**uow)
        .await?
        .ok_or(AppError::NotFound("plan"))
}

async fn prices_of(uow: &UnitOfWork<'_>, plan_id: Uuid) -> AppResult<Vec<PriceSpec>> {
    PlanPrices::find()
        .filter(plan_prices::Column::PlanId.eq(plan_id))
        .all(&**uow)
        .await?
        .into_iter()
        .map(|row| {
            Ok(PriceSpec {
                interval: BillingInterval::from_stored(&row.interval)?,
                amount_minor: row.amount_minor,
                currency: row.currency,
                provider_price_id: row.provider_price_id,
            })
        })
        .collect()
}

/// Takes the latest version of `code` out of the latest place, unless another change did
/// first: concurrent edits of one plan make one version each, never two of the same number.
async fn supersede(uow: &UnitOfWork<'_>, plan: &plans::Model) -> AppResult<()> {
    let moved = Plans::update_many()
        .col_expr(plans::Column::Latest, Expr::value(false))
        .filter(plans::Column::Id.eq(plan.id))
        .filter(plans::Column::Latest.eq(true))
        .exec(&**uow)
        .await?
        .rows_affected;
    if moved == 0 {
        return Err(AppError::conflict(
            ConflictReason::ConcurrentUpdate,
            "the plan changed meanwhile: read it again",
        ));
    }
    Ok(())
}

pub async fn update(
    actor: &crate::auth::Actor,
    code: &str,
    edit: PlanEdit,
) -> AppResult<plans::Model> {
    actor.require_admin()?;
    let now = actor.now;
    let new_name = edit.name.as_deref().map(name).transpose()?;
    let new_trial = edit.trial_days.map(trial_days).transpose()?;
    let new_prices = edit.prices.map(prices).transpose()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let current = latest(&uow, code).await?;
    let current_prices = prices_of(&uow, current.id).await?;
    let current_entitlements = PlanEntitlements::find_by_id(current.id)
        .one(&*uow)
        .await?
        .unwrap_or_else(|| granting_nothing(current.id));
    let before = snapshot(&current, &current_prices, &current_entitlements);

    let mut entitlements = current_entitlements.clone();
    if let Some(values) = &edit.entitlements {
        entitle(&mut entitlements, values)?;
    }
    let prices = new_prices.unwrap_or_else(|| current_prices.clone());
    let new_version = entitlements != current_entitlements || prices != current_prices;

    let mut plan = current.clone();
    plan.name = new_name.unwrap_or(plan.name);
    plan.trial_days = new_trial.unwrap_or(plan.trial_days);
    plan.updated_at = now.into();
    let plan = if new_version {
        supersede(&uow, &current).await?;
        let id = Uuid::now_v7();
        entitlements.plan_id = id;
        let next = with_headline(
            plans::Model {
                id,
                version: current.version + 1,
                latest: true,
                created_at: now.into(),
                ..plan
            },
            &prices,
        );
        write_version(&uow, next, &prices, entitlements.clone()).await?
    } else {
        let mut row: plans::ActiveModel = current.clone().into();
        row.name = Set(plan.name);
        row.trial_days = Set(plan.trial_days);
        row.updated_at = Set(plan.updated_at);
        row.update(&*uow).await?
    };
    let metadata = json!({
        "before": before,
        "after": snapshot(&plan, &prices, &entitlements),
        "newVersion": new_version,
    });
    uow.record(plan_change("plan.updated", &plan, metadata))
        .await?;
    uow.commit().await?;
    Ok(plan)
}

pub async fn retire(actor: &crate::auth::Actor, code: &str) -> AppResult<plans::Model> {
    actor.require_admin()?;
    let now = actor.now;
    let mut uow = UnitOfWork::begin(actor).await?;
    let current = latest(&uow, code).await?;
    if !current.active {
        return Err(AppError::conflict(
            ConflictReason::PlanRetired,
            "the plan is retired already",
        ));
    }
    let mut row: plans::ActiveModel = current.clone().into();
    row.active = Set(false);
    row.retired_at = Set(Some(now.into()));
    row.updated_at = Set(now.into());
    let plan = row.update(&*uow).await?;
    uow.record(plan_change(
        "plan.retired",
        &plan,
        json!({ "code": plan.code, "version": plan.version }),
    ))
    .await?;
    uow.commit().await?;
    Ok(plan)
}
