//! Capacity in shared database pools. A slot is taken by a conditional UPDATE that succeeds
//! only while the pool has room (and a CHECK constraint backs it), so pools never overfill
//! under any concurrency. Waiting instances are placed oldest first when room appears.

use super::model::PoolStatus;
use crate::auth::Actor;
use crate::domain::instances::changes::{HistoryLine, change, write_history};
use crate::domain::instances::model::InstanceStatus;
use crate::domain::plans::model::DbType;
use crate::error::AppResult;
use crate::events::{Event, UnitOfWork};
use chrono::{DateTime, Utc};
use entity::{database_pools, instances, prelude::*};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

const ACTIVE: &str = PoolStatus::Active.as_str();
const WAITING: &str = InstanceStatus::WaitingForCapacity.as_str();

/// Attempts before giving up on a region whose pools keep filling under us; each failed
/// attempt means another transaction took the slot, so this bounds only pathological races.
const ATTEMPTS: usize = 32;

/// Takes a slot in the least-loaded active pool of the region with room, if any. The slot
/// that brings a pool to its alert threshold publishes `pool.past_threshold` (once per
/// crossing: the count is read back from the increment itself, not from an earlier read).
pub async fn take_slot(
    uow: &mut UnitOfWork<'_>,
    region: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<database_pools::Model>> {
    for _ in 0..ATTEMPTS {
        let Some(candidate) = DatabasePools::find()
            .filter(database_pools::Column::Region.eq(region))
            .filter(database_pools::Column::Status.eq(ACTIVE))
            .filter(
                Expr::col(database_pools::Column::CurrentDatabases)
                    .lt(Expr::col(database_pools::Column::MaxDatabases)),
            )
            .order_by_asc(database_pools::Column::CurrentDatabases)
            .order_by_asc(database_pools::Column::Id)
            .limit(1)
            .one(&**uow)
            .await?
        else {
            return Ok(None);
        };
        let taken = DatabasePools::update_many()
            .col_expr(
                database_pools::Column::CurrentDatabases,
                Expr::col(database_pools::Column::CurrentDatabases).add(1),
            )
            .col_expr(
                database_pools::Column::UpdatedAt,
                Expr::value(now.fixed_offset()),
            )
            .filter(database_pools::Column::Id.eq(candidate.id))
            .filter(database_pools::Column::Status.eq(ACTIVE))
            .filter(
                Expr::col(database_pools::Column::CurrentDatabases)
                    .lt(Expr::col(database_pools::Column::MaxDatabases)),
            )
            .exec_with_returning(&**uow)
            .await?;
        if let Some(pool) = taken.into_iter().next() {
            if crossed_threshold(&pool) {
                uow.publish(past_threshold(&pool));
            }
            return Ok(Some(pool));
        }
    }
    Ok(None)
}

/// Whether the slot just taken (the count already includes it) is the one that reached the
/// pool's alert threshold.
fn crossed_threshold(pool: &database_pools::Model) -> bool {
    let alert_at = pool.alert_threshold * f64::from(pool.max_databases);
    let now = f64::from(pool.current_databases);
    now >= alert_at && now - 1.0 < alert_at
}

/// For operators: the pool is filling, the region will soon need another.
fn past_threshold(pool: &database_pools::Model) -> Event {
    Event {
        kind: "pool.past_threshold".into(),
        entity_id: pool.id,
        developer_id: None,
        data: json!({
            "region": pool.region,
            "host": pool.host,
            "currentDatabases": pool.current_databases,
            "maxDatabases": pool.max_databases,
            "alertThreshold": pool.alert_threshold,
        }),
    }
}

pub async fn release_slot(
    conn: &impl ConnectionTrait,
    pool_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    DatabasePools::update_many()
        .col_expr(
            database_pools::Column::CurrentDatabases,
            Expr::col(database_pools::Column::CurrentDatabases).sub(1),
        )
        .col_expr(
            database_pools::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(database_pools::Column::Id.eq(pool_id))
        .filter(Expr::col(database_pools::Column::CurrentDatabases).gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Places waiting instances of the region, oldest first, while pools have room, recording
/// each placement as the platform's doing (whoever's change freed the room).
pub async fn place_waiters(uow: &mut UnitOfWork<'_>, region: &str) -> AppResult<()> {
    let now = uow.actor().now;
    for _ in 0..ATTEMPTS * 8 {
        let conn = &**uow;
        let Some(waiter) = Instances::find()
            .filter(instances::Column::Region.eq(region))
            .filter(instances::Column::Status.eq(WAITING))
            // A dedicated instance waits for its server, never for a shared pool.
            .filter(instances::Column::Tier.eq(DbType::Shared.as_str()))
            .order_by_asc(instances::Column::CreatedAt)
            .order_by_asc(instances::Column::Id)
            .limit(1)
            .one(conn)
            .await?
        else {
            break;
        };
        let Some(pool) = take_slot(uow, region, now).await? else {
            break;
        };
        let conn = &**uow;
        let claimed = Instances::update_many()
            .col_expr(
                instances::Column::Status,
                Expr::value(InstanceStatus::Provisioning.as_str()),
            )
            .col_expr(instances::Column::PoolId, Expr::value(pool.id))
            .col_expr(
                instances::Column::DatabaseHost,
                Expr::value(pool.host.clone()),
            )
            .col_expr(
                instances::Column::UpdatedAt,
                Expr::value(now.fixed_offset()),
            )
            .filter(instances::Column::Id.eq(waiter.id))
            .filter(instances::Column::Status.eq(WAITING))
            .exec(conn)
            .await?;
        if claimed.rows_affected == 0 {
            // Another transaction placed this waiter first: give the slot back, try the next.
            release_slot(conn, pool.id, now).await?;
            continue;
        }
        let line = HistoryLine {
            kind: "instance.placed",
            from: Some(WAITING),
            to: InstanceStatus::Provisioning.as_str(),
            message: Some(format!("placed on {}", pool.host)),
        };
        write_history(conn, waiter.id, line, now).await?;
        if let Some(placed) = Instances::find_by_id(waiter.id).one(conn).await? {
            let metadata = json!({ "from": WAITING, "to": "provisioning", "poolId": pool.id });
            uow.record(change("instance.placed", &placed, metadata).by_platform())
                .await?;
        }
    }
    Ok(())
}

/// The scheduler's sweep: capacity is offered to waiters the moment it appears (a slot freed, a
/// pool added or grown, in that change's own transaction); this places any waiter that moment
/// missed (a region whose room came while its waiters were being created), a bounded number of
/// regions per run. Answers how many regions it looked at.
pub async fn place_all_waiters(actor: &Actor) -> AppResult<u64> {
    let regions: Vec<String> = Instances::find()
        .select_only()
        .column(instances::Column::Region)
        .distinct()
        .filter(instances::Column::Status.eq(WAITING))
        .filter(instances::Column::Tier.eq(DbType::Shared.as_str()))
        .limit(50)
        .into_tuple()
        .all(&actor.app.db)
        .await?;
    for region in &regions {
        let mut uow = UnitOfWork::begin(actor).await?;
        place_waiters(&mut uow, region).await?;
        uow.commit().await?;
    }
    Ok(regions.len() as u64)
}
