//! The audit trail: every state change writes one row, inside the change's own transaction.

use crate::auth::{Caller, RequestMeta};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::audit_events;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use uuid::Uuid;

/// What happened and to what; who and from where come from the caller and request.
pub struct AuditEntry<'a> {
    pub event_type: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    /// The developer who owns the entity; they may read this event.
    pub owner_id: Option<Uuid>,
    pub metadata: serde_json::Value,
}

pub async fn record(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    meta: &RequestMeta,
    now: DateTime<Utc>,
    entry: AuditEntry<'_>,
) -> AppResult<()> {
    let (actor_type, actor_id) = caller.actor();
    audit_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        event_type: Set(entry.event_type.to_owned()),
        actor_id: Set(actor_id),
        actor_type: Set(actor_type.to_owned()),
        entity_type: Set(entry.entity_type.to_owned()),
        entity_id: Set(Some(entry.entity_id)),
        owner_id: Set(entry.owner_id),
        metadata: Set(entry.metadata),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta.user_agent.clone()),
        created_at: Set(now.into()),
    }
    .insert(conn)
    .await?;
    Ok(())
}
