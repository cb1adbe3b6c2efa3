//! Capacity in shared database pools. A slot is taken by a conditional UPDATE that succeeds
//! only while the pool has room (and a CHECK constraint backs it), so pools never overfill
//! under any concurrency. Waiting instances are placed oldest first when room appears.

use crate::auth::{Caller, RequestMeta};
use crate::domain::audit::service::{self as audit, AuditEntry};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{database_pools, instance_events, instances, prelude::*};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Attempts before giving up on a region whose pools keep filling under us; each failed
/// attempt means another transaction took the slot, so this bounds only pathological races.
const ATTEMPTS: usize = 32;

/// Takes a slot in the least-loaded active pool of the region with room, if any.
pub async fn take_slot(
    conn: &impl ConnectionTrait,
    region: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<database_pools::Model>> {
    for _ in 0..ATTEMPTS {
        let Some(candidate) = DatabasePools::find()
            .filter(database_pools::Column::Region.eq(region))
            .filter(database_pools::Column::Status.eq("active"))
            .filter(
                Expr::col(database_pools::Column::CurrentDatabases)
                    .lt(Expr::col(database_pools::Column::MaxDatabases)),
            )
            .order_by_asc(database_pools::Column::CurrentDatabases)
            .order_by_asc(database_pools::Column::Id)
            .limit(1)
            .one(conn)
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
            .filter(database_pools::Column::Status.eq("active"))
            .filter(
                Expr::col(database_pools::Column::CurrentDatabases)
                    .lt(Expr::col(database_pools::Column::MaxDatabases)),
            )
            .exec(conn)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
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

pub async fn record_event(
    conn: &impl ConnectionTrait,
    instance_id: Uuid,
    kind: &str,
    from: Option<&str>,
    to: &str,
    message: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    instance_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        instance_id: Set(instance_id),
        event_type: Set(kind.to_owned()),
        from_status: Set(from.map(str::to_owned)),
        to_status: Set(to.to_owned()),
        message: Set(message),
        created_at: Set(now.into()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Places waiting instances of the region, oldest first, while pools have room. Returns the
/// instances placed.
pub async fn place_waiters(
    conn: &impl ConnectionTrait,
    region: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<instances::Model>> {
    let mut placed = Vec::new();
    for _ in 0..ATTEMPTS * 8 {
        let Some(waiter) = Instances::find()
            .filter(instances::Column::Region.eq(region))
            .filter(instances::Column::Status.eq("waiting_for_capacity"))
            .order_by_asc(instances::Column::CreatedAt)
            .order_by_asc(instances::Column::Id)
            .limit(1)
            .one(conn)
            .await?
        else {
            break;
        };
        let Some(pool) = take_slot(conn, region, now).await? else {
            break;
        };
        let claimed = Instances::update_many()
            .col_expr(instances::Column::Status, Expr::value("provisioning"))
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
            .filter(instances::Column::Status.eq("waiting_for_capacity"))
            .exec(conn)
            .await?;
        if claimed.rows_affected == 0 {
            // Another transaction placed this waiter first: give the slot back, try the next.
            release_slot(conn, pool.id, now).await?;
            continue;
        }
        record_event(
            conn,
            waiter.id,
            "instance.placed",
            Some("waiting_for_capacity"),
            "provisioning",
            Some(format!("placed on {}", pool.host)),
            now,
        )
        .await?;
        // Placement is the platform's doing, whoever's change freed the room.
        audit::record(
            conn,
            &Caller::Anonymous,
            &RequestMeta::default(),
            now,
            AuditEntry {
                event_type: "instance.placed",
                entity_type: "instance",
                entity_id: waiter.id,
                owner_id: Some(waiter.developer_id),
                metadata: json!({ "from": "waiting_for_capacity", "to": "provisioning", "poolId": pool.id }),
            },
        )
        .await?;
        if let Some(instance) = Instances::find_by_id(waiter.id).one(conn).await? {
            placed.push(instance);
        }
    }
    Ok(placed)
}
