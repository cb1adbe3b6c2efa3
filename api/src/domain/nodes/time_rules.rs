//! What time does to runtime nodes: one that stops checking in is announced dead once (it
//! holds no slot from its deadline on, and may still come back), and one still silent past the
//! resurrection window is culled (deactivated; it must activate again). Each change is its own
//! transaction, written only while the node is still as it was found, so the scheduler in two
//! gateways announces and culls each node once.

use super::model::NodeStatus;
use super::service::node_change;
use crate::auth::Actor;
use crate::domain::licenses::changes::event;
use crate::error::AppResult;
use crate::events::UnitOfWork;
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, prelude::*, runtime_nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

/// Nodes looked at per statement.
const BATCH: u64 = 200;

/// Batches per run at most; what is left is for the next run.
const MAX_BATCHES: usize = 25;

const ACTIVE: &str = NodeStatus::Active.as_str();

/// Announces nodes past their heartbeat deadline, and culls those past the resurrection
/// window. Answers how many nodes changed.
pub async fn announce_and_cull(actor: &Actor) -> AppResult<u64> {
    let window = Duration::seconds(actor.app.config.licensing.node_resurrection_seconds);
    let culled = sweep(actor, Sweep::Cull(actor.now - window)).await?;
    let announced = sweep(actor, Sweep::Announce(actor.now)).await?;
    Ok(culled + announced)
}

#[derive(Clone, Copy)]
enum Sweep {
    /// Active, past the deadline, not yet announced.
    Announce(DateTime<Utc>),
    /// Active, past the deadline by more than the resurrection window.
    Cull(DateTime<Utc>),
}

impl Sweep {
    fn due(self) -> sea_orm::Select<RuntimeNodes> {
        let active = RuntimeNodes::find().filter(runtime_nodes::Column::Status.eq(ACTIVE));
        match self {
            Self::Announce(now) => active
                .filter(runtime_nodes::Column::HeartbeatDeadlineAt.lt(now))
                .filter(runtime_nodes::Column::DeadAnnouncedAt.is_null()),
            Self::Cull(cutoff) => {
                active.filter(runtime_nodes::Column::HeartbeatDeadlineAt.lt(cutoff))
            }
        }
        .order_by_asc(runtime_nodes::Column::HeartbeatDeadlineAt)
    }
}

async fn sweep(actor: &Actor, sweep: Sweep) -> AppResult<u64> {
    let mut changed = 0;
    for _ in 0..MAX_BATCHES {
        let due = sweep
            .due()
            .find_also_related(Licenses)
            .limit(BATCH)
            .all(&actor.app.db)
            .await?;
        let found = due.len() as u64;
        let mut changed_now = 0;
        for (node, license) in due {
            let Some(license) = license else { continue };
            if one(actor, sweep, &node, &license).await? {
                changed_now += 1;
            }
        }
        changed += changed_now;
        if found < BATCH || changed_now == 0 {
            break;
        }
    }
    Ok(changed)
}

/// One node, one transaction; false when it changed meanwhile (it checked in, say).
async fn one(
    actor: &Actor,
    sweep: Sweep,
    node: &runtime_nodes::Model,
    license: &licenses::Model,
) -> AppResult<bool> {
    let now = actor.now;
    let mut uow = UnitOfWork::begin(actor).await?;
    // Still late: a node that checked in meanwhile has a deadline ahead again.
    let late_before = match sweep {
        Sweep::Announce(now) => now,
        Sweep::Cull(cutoff) => cutoff,
    };
    let still = RuntimeNodes::update_many()
        .filter(runtime_nodes::Column::Id.eq(node.id))
        .filter(runtime_nodes::Column::Status.eq(ACTIVE))
        .filter(runtime_nodes::Column::HeartbeatDeadlineAt.lt(late_before))
        .col_expr(runtime_nodes::Column::UpdatedAt, Expr::value(now));
    let (update, kind, published) = match sweep {
        Sweep::Announce(_) => (
            still
                .filter(runtime_nodes::Column::DeadAnnouncedAt.is_null())
                .col_expr(runtime_nodes::Column::DeadAnnouncedAt, Expr::value(now)),
            "node.dead",
            "license.node_dead",
        ),
        Sweep::Cull(_) => (
            still
                .col_expr(
                    runtime_nodes::Column::Status,
                    Expr::value(NodeStatus::Deactivated.as_str()),
                )
                .col_expr(runtime_nodes::Column::DeactivatedAt, Expr::value(now)),
            "node.culled",
            "license.node_culled",
        ),
    };
    if update.exec(&*uow).await?.rows_affected == 0 {
        return Ok(false);
    }
    let metadata = json!({
        "licenseId": license.id,
        "fingerprint": node.fingerprint,
        "deadline": node.heartbeat_deadline_at,
    });
    uow.record(
        node_change(kind, node, license, metadata)
            .by_platform()
            .publish(event(published, license)),
    )
    .await?;
    uow.commit().await?;
    Ok(true)
}
