//! What an instance change records: its history row, the audit entry, and the event.

use crate::error::AppResult;
use crate::events::{Change, Event};
use chrono::{DateTime, Utc};
use entity::{instance_events, instances};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::json;
use uuid::Uuid;

/// A change to `instance` of this kind, audited with `metadata` and published under the same
/// kind once the instance is as it will be committed.
pub fn change(kind: &str, instance: &instances::Model, metadata: serde_json::Value) -> Change {
    Change::new(kind, "instance", instance.id)
        .owner(instance.developer_id)
        .metadata(metadata)
        .publish(event(kind, instance))
}

/// The event subscribers see for an instance change.
pub fn event(kind: &str, instance: &instances::Model) -> Event {
    Event {
        kind: kind.to_owned(),
        entity_id: instance.id,
        developer_id: Some(instance.developer_id),
        data: json!({ "status": instance.status, "poolId": instance.pool_id }),
    }
}

/// One line of the instance's own history (`instance_events`), which its developer reads.
pub struct HistoryLine<'a> {
    pub kind: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub message: Option<String>,
}

pub async fn write_history(
    conn: &impl ConnectionTrait,
    instance_id: Uuid,
    line: HistoryLine<'_>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    instance_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        instance_id: Set(instance_id),
        event_type: Set(line.kind.to_owned()),
        from_status: Set(line.from.map(str::to_owned)),
        to_status: Set(line.to.to_owned()),
        message: Set(line.message),
        created_at: Set(now.into()),
    }
    .insert(conn)
    .await?;
    Ok(())
}
