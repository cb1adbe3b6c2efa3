use super::loaders::EntitlementsByPlan;
use super::model::{BillingInterval, DbType};
use super::{change, service};
use crate::auth::Audience;
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown, shown_all};
use async_graphql::{Context, Object, Result, SimpleObject};
use entity::{plan_entitlements, plans};
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

pub struct Plan(plans::Model);

impl Guarded for Plan {
    type Row = plans::Model;

    fn audience(_: &plans::Model) -> Audience {
        Audience::Everyone
    }

    fn wrap(row: plans::Model, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl Plan {
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
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Option<Entitlements>> {
        let found = ctx
            .loader::<EntitlementsByPlan>()?
            .load_one(self.0.id)
            .await?;
        Ok(found.map(Entitlements::from_row).transpose()?)
    }
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
    /// Moves a developer's current license to another plan on sale; its entitlements switch at
    /// once. Over a limit of the new plan (runtime nodes, seats, team members, instances) it is
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
        let changed = change::change_plan(actor, developer_id, &plan_code, force).await?;
        Ok(PlanChange {
            license: crate::graphql::guard::shown_or_not_found(actor, changed.license, "license")?,
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
