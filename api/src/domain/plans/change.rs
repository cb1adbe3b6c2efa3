//! `changePlan`: a developer's current license moves to another plan, and its entitlements
//! switch at once on every gateway (the published license change drops every cached copy). A
//! plan whose limits the developer is over (runtime nodes, seats, team members, instances,
//! counted with the developer's overrides on top) is refused with each limit named; `force`
//! frees the newest surplus of what may be freed (runtime nodes deactivated, seats revoked,
//! open invitations withdrawn), each audited. Members and instances are never taken away by
//! force: remove or delete them first.

use super::service::purchasable;
use crate::auth::{Actor, Role};
use crate::domain::accounts::service::lock_developer;
use crate::domain::entitlements::catalogue;
use crate::domain::entitlements::resolve::{Entitlements, USABLE_STATES, resolve_one};
use crate::domain::instances::model::InstanceStatus;
use crate::domain::licenses::changes::change;
use crate::domain::members::model::InvitationStatus;
use crate::domain::nodes::model::NodeStatus;
use crate::domain::seats::service::{Release, release_within};
use crate::error::{AppError, AppResult, ConflictReason, Overage};
use crate::events::{Change, UnitOfWork};
use entity::{
    instances, invitations, license_assignments, licenses, prelude::*, runtime_nodes, users,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

/// What a forced change freed, by metric.
pub struct Released {
    pub metric: &'static str,
    pub ids: Vec<Uuid>,
}

pub struct PlanChanged {
    pub license: licenses::Model,
    pub released: Vec<Released>,
}

#[tracing::instrument(skip(actor))]
pub async fn change_plan(
    actor: &Actor,
    developer_id: Uuid,
    plan_code: &str,
    force: bool,
) -> AppResult<PlanChanged> {
    authorize(actor, developer_id)?;
    let now = actor.now;
    let plan = purchasable(&actor.app.db, plan_code).await?;
    let row = PlanEntitlements::find_by_id(plan.id)
        .one(&actor.app.db)
        .await?
        .ok_or_else(|| AppError::validation("planCode", "this plan grants nothing yet"))?;
    let mut uow = UnitOfWork::begin(actor).await?;
    // One developer's plan changes (and what they free) happen one at a time.
    lock_developer(&*uow, developer_id).await?;
    let license = Licenses::find()
        .filter(licenses::Column::DeveloperId.eq(developer_id))
        .filter(licenses::Column::State.is_in(USABLE_STATES))
        .order_by_desc(licenses::Column::Id)
        .one(&*uow)
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                ConflictReason::LicenseNotUsable,
                "the developer has no usable license to change the plan of",
            )
        })?;
    let before_plan = Plans::find_by_id(license.plan_id).one(&*uow).await?;
    let mut next = resolve_one(&*uow, developer_id, now).await?;
    next.plan_values = catalogue::from_plan(&row);
    let usage = Usage::count(&*uow, &license, now).await?;
    let overages = usage.over(&next);
    if license.plan_id == plan.id && overages.is_empty() {
        // On the plan already (a provider's event may have moved it): nothing to change.
        return Ok(PlanChanged {
            license,
            released: Vec::new(),
        });
    }
    let mut released = Vec::new();
    if !overages.is_empty() {
        if !force || overages.iter().any(|o| !o.releasable) {
            return Err(AppError::OverLimits(overages));
        }
        for overage in &overages {
            let surplus = u64::try_from(overage.current - overage.limit).unwrap_or(0);
            let ids = release(&mut uow, &license, overage.metric, surplus).await?;
            released.push(Released {
                metric: overage.metric,
                ids,
            });
        }
    }
    let seats_total = match next.limit("max_seats") {
        Some(limit) => i32::try_from(limit.max(1)).unwrap_or(i32::MAX),
        None => license.seats_total,
    };
    Licenses::update_many()
        .col_expr(licenses::Column::PlanId, Expr::value(plan.id))
        .col_expr(licenses::Column::SeatsTotal, Expr::value(seats_total))
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .filter(licenses::Column::Id.eq(license.id))
        .exec(&*uow)
        .await?;
    let after = Licenses::find_by_id(license.id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("license"))?;
    let freed: serde_json::Map<String, serde_json::Value> = released
        .iter()
        .map(|r| (r.metric.to_owned(), json!(r.ids)))
        .collect();
    let metadata = json!({
        "fromPlan": before_plan.map(|p| p.code),
        "toPlan": plan.code,
        "forced": force && !released.is_empty(),
        "released": freed,
    });
    uow.record(change("license.plan_changed", &after, metadata))
        .await?;
    uow.commit().await?;
    Ok(PlanChanged {
        license: after,
        released,
    })
}

/// Admins, or the developer itself; anyone else is told the developer does not exist.
pub fn authorize(actor: &Actor, developer_id: Uuid) -> AppResult<()> {
    match actor.require_user()? {
        (_, Role::Admin) => Ok(()),
        (me, Role::Developer) if me == developer_id => Ok(()),
        _ => Err(AppError::NotFound("developer")),
    }
}

/// Each limit of `plan_id` that the developer holding `license` is over (none: it fits), with
/// the developer's overrides on top.
pub async fn over_limits(
    conn: &impl ConnectionTrait,
    license: &licenses::Model,
    plan_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<Overage>> {
    let Some(row) = PlanEntitlements::find_by_id(plan_id).one(conn).await? else {
        return Ok(Vec::new());
    };
    let mut next = resolve_one(conn, license.developer_id, now).await?;
    next.plan_values = catalogue::from_plan(&row);
    Ok(Usage::count(conn, license, now).await?.over(&next))
}

/// What the developer holds now, against the limits of the plan it moves to.
struct Usage {
    nodes: i64,
    seats: i64,
    members: i64,
    invitations: i64,
    instances: i64,
}

impl Usage {
    async fn count(
        conn: &impl ConnectionTrait,
        license: &licenses::Model,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<Self> {
        let developer = license.developer_id;
        let nodes = RuntimeNodes::find()
            .filter(runtime_nodes::Column::LicenseId.eq(license.id))
            .filter(runtime_nodes::Column::Status.eq(NodeStatus::Active.as_str()))
            .filter(runtime_nodes::Column::HeartbeatDeadlineAt.gte(now))
            .count(conn)
            .await?;
        let members = Users::find()
            .filter(users::Column::DeveloperId.eq(developer))
            .filter(users::Column::Role.eq(Role::Member.as_str()))
            .count(conn)
            .await?;
        let invitations = Invitations::find()
            .filter(invitations::Column::DeveloperId.eq(developer))
            .filter(invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::Column::ExpiresAt.gt(now))
            .count(conn)
            .await?;
        let instances = Instances::find()
            .filter(instances::Column::DeveloperId.eq(developer))
            .filter(instances::Column::Status.is_in(InstanceStatus::texts(InstanceStatus::LIVE)))
            .count(conn)
            .await?;
        let whole = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(Self {
            nodes: whole(nodes),
            seats: i64::from(license.seats_used),
            members: whole(members),
            invitations: whole(invitations),
            instances: whole(instances),
        })
    }

    /// Every limit of `next` this usage is over.
    fn over(&self, next: &Entitlements) -> Vec<Overage> {
        let instance_limit = [next.limit("max_customers"), next.limit("max_workspaces")]
            .into_iter()
            .flatten()
            .min();
        let team = self.members + self.invitations;
        let checks = [
            (
                "runtime_nodes",
                next.limit("max_runtime_nodes"),
                self.nodes,
                true,
            ),
            ("seats", next.limit("max_seats"), self.seats, true),
            (
                "team_members",
                next.limit("max_team_members"),
                team,
                // Open invitations may be withdrawn; members are not removed by force.
                next.limit("max_team_members")
                    .is_some_and(|limit| self.members <= limit.max(0)),
            ),
            ("instances", instance_limit, self.instances, false),
        ];
        checks
            .into_iter()
            .filter_map(|(metric, limit, current, releasable)| {
                let limit = limit?.max(0);
                (current > limit).then_some(Overage {
                    metric,
                    limit,
                    current,
                    releasable,
                })
            })
            .collect()
    }
}

/// Frees the newest `surplus` of `metric`; answers the ids freed.
async fn release(
    uow: &mut UnitOfWork<'_>,
    license: &licenses::Model,
    metric: &'static str,
    surplus: u64,
) -> AppResult<Vec<Uuid>> {
    let now = uow.actor().now;
    let mut freed = Vec::new();
    match metric {
        "runtime_nodes" => {
            let newest = RuntimeNodes::find()
                .filter(runtime_nodes::Column::LicenseId.eq(license.id))
                .filter(runtime_nodes::Column::Status.eq(NodeStatus::Active.as_str()))
                .filter(runtime_nodes::Column::HeartbeatDeadlineAt.gte(now))
                .order_by_desc(runtime_nodes::Column::ActivatedAt)
                .limit(surplus)
                .all(&**uow)
                .await?;
            for node in newest {
                RuntimeNodes::update_many()
                    .col_expr(
                        runtime_nodes::Column::Status,
                        Expr::value(NodeStatus::Deactivated.as_str()),
                    )
                    .col_expr(runtime_nodes::Column::DeactivatedAt, Expr::value(now))
                    .col_expr(runtime_nodes::Column::UpdatedAt, Expr::value(now))
                    .filter(runtime_nodes::Column::Id.eq(node.id))
                    .exec(&**uow)
                    .await?;
                let metadata = json!({ "licenseId": license.id, "fingerprint": node.fingerprint, "reason": "plan_changed" });
                uow.record(
                    Change::new("node.deactivated", "runtime_node", node.id)
                        .owner(license.developer_id)
                        .metadata(metadata),
                )
                .await?;
                freed.push(node.id);
            }
        }
        "seats" => {
            let held = [
                crate::domain::seats::model::AssignmentStatus::Active,
                crate::domain::seats::model::AssignmentStatus::Pending,
            ]
            .map(|s| s.as_str());
            let newest = LicenseAssignments::find()
                .filter(license_assignments::Column::LicenseId.eq(license.id))
                .filter(license_assignments::Column::Status.is_in(held))
                .order_by_desc(license_assignments::Column::Id)
                .limit(surplus)
                .all(&**uow)
                .await?;
            for seat in newest {
                if release_within(uow, &seat, license, Release::Revoke).await? {
                    freed.push(seat.id);
                }
            }
        }
        "team_members" => {
            let newest = Invitations::find()
                .filter(invitations::Column::DeveloperId.eq(license.developer_id))
                .filter(invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
                .filter(invitations::Column::ExpiresAt.gt(now))
                .order_by_desc(invitations::Column::Id)
                .limit(surplus)
                .all(&**uow)
                .await?;
            for invitation in newest {
                crate::domain::members::invitations::withdraw_within(uow, &invitation).await?;
                freed.push(invitation.id);
            }
        }
        _ => {}
    }
    Ok(freed)
}
