use super::loaders::{EntitlementsByPlan, PricesByPlan};
use super::manage::{self, NewPlan, PlanEdit, PriceSpec};
use super::model::{BillingInterval, DbType};
use super::service;
use crate::auth::Audience;
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown, shown_all, shown_or_not_found};
use crate::graphql::plain::{Plain, plain_fields};
use async_graphql::{Context, InputObject, Json, Object, Result, SimpleObject};
use entity::{plan_entitlements, plan_prices, plans};
use serde_json::Map;
use uuid::Uuid;

#[derive(Default)]
pub struct PlansQuery;

#[Object]
impl PlansQuery {
    /// Plans on sale, cheapest first. Public.
    async fn plans(&self, ctx: &Context<'_>) -> Result<Vec<Plan>> {
        let actor = ctx.actor()?;
        Ok(shown_all(actor, service::list(actor).await?))
    }

    /// One plan by its code, e.g. `solo`. Public.
    async fn plan(&self, ctx: &Context<'_>, code: String) -> Result<Option<Plan>> {
        let actor = ctx.actor()?;
        let found = service::by_code(&actor.app.db, &code).await?;
        Ok(found.and_then(|plan| shown(actor, plan)))
    }
}

/// A plan as the schema shows it (its plain fields answered in place).
pub type Plan = Plain<PlanObject>;

pub struct PlanObject(plans::Model);

impl Guarded for Plan {
    type Row = plans::Model;

    fn audience(_: &plans::Model) -> Audience {
        Audience::Everyone
    }

    fn wrap(row: plans::Model, _: Seen) -> Self {
        Plain(PlanObject(row))
    }
}

plain_fields!(PlanObject {
    "id" => value(id),
    "code" => value(code),
    "name" => value(name),
    "priceMinor" => value(price_minor),
    "currency" => value(currency),
    "interval" => fallible(interval),
    "trialDays" => value(trial_days),
    "active" => value(active),
    "version" => value(version),
    "latest" => value(latest),
    "retiredAt" => value(retired_at),
});

#[Object(name = "Plan")]
impl PlanObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Price per interval in the currency's minor unit (cents).
    async fn price_minor(&self) -> i64 {
        self.0.price_minor
    }
    /// ISO 4217 code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn interval(&self) -> Result<BillingInterval> {
        Ok(BillingInterval::from_stored(&self.0.billing_interval)?)
    }
    async fn trial_days(&self) -> i32 {
        self.0.trial_days
    }
    /// On sale: retired plans are not sold, but what was sold on them goes on.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Which version of the plan this is: changing what a plan grants or costs makes a new
    /// one, and licenses keep the version they were sold on.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Whether this is the plan's latest version (the one sold now).
    async fn latest(&self) -> bool {
        self.0.latest
    }
    async fn retired_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.retired_at.map(|t| t.with_timezone(&chrono::Utc))
    }
    /// This version's prices, month before year.
    async fn prices(&self, ctx: &Context<'_>) -> Result<Vec<PlanPrice>> {
        let found = ctx.loader::<PricesByPlan>()?.load_one(self.0.id).await?;
        found
            .unwrap_or_default()
            .into_iter()
            .map(PlanPrice::from_row)
            .collect()
    }
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Option<Entitlements>> {
        let found = ctx
            .loader::<EntitlementsByPlan>()?
            .load_one(self.0.id)
            .await?;
        Ok(found.map(Entitlements::from_row).transpose()?)
    }
}

/// One price of a plan version.
#[derive(SimpleObject)]
pub struct PlanPrice {
    id: Uuid,
    interval: BillingInterval,
    /// In the currency's minor unit (cents).
    amount_minor: i64,
    /// ISO 4217 code.
    currency: String,
    /// The payment provider's price, when it sells this one.
    provider_price_id: Option<String>,
}

impl PlanPrice {
    fn from_row(row: plan_prices::Model) -> Result<Self> {
        Ok(Self {
            id: row.id,
            interval: BillingInterval::from_stored(&row.interval)?,
            amount_minor: row.amount_minor,
            currency: row.currency,
            provider_price_id: row.provider_price_id,
        })
    }
}

#[derive(InputObject)]
pub struct PlanPriceInput {
    interval: BillingInterval,
    /// In the currency's minor unit; 0 to 10,000,000,000.
    amount_minor: i64,
    /// ISO 4217 code, e.g. `USD`.
    currency: String,
    /// The payment provider's price id (`price_...`); needed to sell it through the provider.
    provider_price_id: Option<String>,
}

impl From<PlanPriceInput> for PriceSpec {
    fn from(input: PlanPriceInput) -> Self {
        Self {
            interval: input.interval,
            amount_minor: input.amount_minor,
            currency: input.currency,
            provider_price_id: input.provider_price_id,
        }
    }
}

#[derive(InputObject)]
pub struct CreatePlanInput {
    /// Lower-case letters, digits, `_` or `-`; up to 40.
    code: String,
    name: String,
    #[graphql(default = 0)]
    trial_days: i32,
    /// One per interval: month, year or both.
    prices: Vec<PlanPriceInput>,
    /// Entitlement keys and values, as `entitlements` names them (`max_seats`, `db_type`,
    /// `feature.sso`, ...); a limit may be null for unlimited. Keys left out grant nothing.
    #[graphql(default)]
    entitlements: Json<Map<String, serde_json::Value>>,
}

/// What to change in a plan; what is left out stays.
#[derive(InputObject)]
pub struct UpdatePlanInput {
    name: Option<String>,
    trial_days: Option<i32>,
    /// The new version's prices in full.
    prices: Option<Vec<PlanPriceInput>>,
    /// Keys to set on top of the latest version's entitlements.
    entitlements: Option<Json<Map<String, serde_json::Value>>>,
}

/// What a plan allows. A null limit means unlimited.
#[derive(SimpleObject)]
pub struct Entitlements {
    max_customers: Option<i32>,
    max_workspaces: Option<i32>,
    max_ai_employees: Option<i32>,
    max_team_members: Option<i32>,
    max_runtime_nodes: Option<i32>,
    max_seats: Option<i32>,
    white_label_basic: bool,
    /// community, email, priority or dedicated.
    support_level: String,
    db_type: DbType,
    storage_quota_bytes: Option<i64>,
    daily_api_requests: Option<i64>,
    /// Feature flags by name.
    features: async_graphql::Json<serde_json::Value>,
}

impl Entitlements {
    pub fn from_row(m: plan_entitlements::Model) -> AppResult<Self> {
        Ok(Self {
            max_customers: m.max_customers,
            max_workspaces: m.max_workspaces,
            max_ai_employees: m.max_ai_employees,
            max_team_members: m.max_team_members,
            max_runtime_nodes: m.max_runtime_nodes,
            max_seats: m.max_seats,
            white_label_basic: m.white_label_basic,
            support_level: m.support_level,
            db_type: DbType::from_stored(&m.db_type)?,
            storage_quota_bytes: m.storage_quota_bytes,
            daily_api_requests: m.daily_api_requests,
            features: async_graphql::Json(m.features),
        })
    }
}

/// What a forced plan change freed of one kind.
#[derive(SimpleObject)]
pub struct ReleasedSurplus {
    /// `runtime_nodes`, `seats` or `team_members` (open invitations withdrawn).
    metric: String,
    /// The ids of what was freed: runtime nodes, seat assignments, invitations.
    ids: Vec<Uuid>,
}

#[derive(SimpleObject)]
pub struct PlanChange {
    license: crate::domain::licenses::schema::License,
    released: Vec<ReleasedSurplus>,
}

#[derive(Default)]
pub struct PlansMutation;

#[Object]
impl PlansMutation {
    /// Adds a plan to the catalogue, on sale at once. Admins only.
    async fn create_plan(&self, ctx: &Context<'_>, input: CreatePlanInput) -> Result<Plan> {
        let actor = ctx.actor()?;
        let plan = manage::create(
            actor,
            NewPlan {
                code: input.code,
                name: input.name,
                trial_days: input.trial_days,
                prices: input.prices.into_iter().map(Into::into).collect(),
                entitlements: input.entitlements.0,
            },
        )
        .await?;
        Ok(shown_or_not_found(actor, plan, "plan")?)
    }

    /// Changes a plan. New entitlements or prices make a new version, sold from now on;
    /// licenses and subscriptions keep the version they were sold on until they change plan.
    /// A new name or trial length changes the latest version itself. Admins only.
    async fn update_plan(
        &self,
        ctx: &Context<'_>,
        code: String,
        input: UpdatePlanInput,
    ) -> Result<Plan> {
        let actor = ctx.actor()?;
        let edit = PlanEdit {
            name: input.name,
            trial_days: input.trial_days,
            prices: input
                .prices
                .map(|prices| prices.into_iter().map(Into::into).collect()),
            entitlements: input.entitlements.map(|values| values.0),
        };
        let plan = manage::update(actor, &code, edit).await?;
        Ok(shown_or_not_found(actor, plan, "plan")?)
    }

    /// Takes a plan off sale: nobody new may buy it or change to it; what was sold on it goes
    /// on. Admins only.
    async fn retire_plan(&self, ctx: &Context<'_>, code: String) -> Result<Plan> {
        let actor = ctx.actor()?;
        let plan = manage::retire(actor, &code).await?;
        Ok(shown_or_not_found(actor, plan, "plan")?)
    }

    /// Moves a developer's current license to another plan on sale; its entitlements switch at
    /// once. A developer paying through a subscription is billed the new plan's price (same
    /// interval) by the payment provider first. Over a limit of the new plan (runtime nodes, seats, team members, instances) it is
    /// refused with QUOTA_EXCEEDED naming each in `extensions.limits`; with `force`, the newest
    /// runtime nodes, seats and open invitations beyond the limits are freed (members and
    /// instances never are). Admins, or the developer itself.
    async fn change_plan(
        &self,
        ctx: &Context<'_>,
        developer_id: Uuid,
        plan_code: String,
        #[graphql(default = false)] force: bool,
    ) -> Result<PlanChange> {
        let actor = ctx.actor()?;
        let changed =
            crate::domain::billing::purchase::change_plan(actor, developer_id, &plan_code, force)
                .await?;
        Ok(PlanChange {
            license: shown_or_not_found(actor, changed.license, "license")?,
            released: changed
                .released
                .into_iter()
                .map(|r| ReleasedSurplus {
                    metric: r.metric.to_owned(),
                    ids: r.ids,
                })
                .collect(),
        })
    }
}
