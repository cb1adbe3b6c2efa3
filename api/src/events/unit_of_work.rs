//! The unit of work: every mutation's one transaction, with the changes it records.
//!
//! A service opens one for its actor, makes its writes through it, and records each change once
//! with [`UnitOfWork::record`]: the audit row is written inside the transaction and the event for
//! subscribers is queued, to be published only if `commit` succeeds.

use super::bus::{CHANNEL, DomainEvent, notify};
use crate::auth::{Actor, ActorType};
use crate::error::{AppError, AppResult, ConflictReason};
use entity::audit_events;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, SqliteTransactionMode, TransactionOptions, TransactionTrait, UpdateMany,
};
use std::ops::Deref;
use uuid::Uuid;

/// An event for subscribers, before the unit of work stamps it with its time.
pub struct Event {
    /// Dotted type, e.g. `license.created`.
    pub kind: String,
    pub entity_id: Uuid,
    /// The developer that owns the entity: who besides admins may receive it.
    pub developer_id: Option<Uuid>,
    pub data: serde_json::Value,
}

/// One change: what happened to which entity, whose it is, what the audit trail keeps of it,
/// and the event subscribers receive, if any.
pub struct Change {
    kind: String,
    entity_type: &'static str,
    entity_id: Uuid,
    owner_id: Option<Uuid>,
    metadata: serde_json::Value,
    event: Option<Event>,
    by_platform: bool,
}

impl Change {
    pub fn new(kind: impl Into<String>, entity_type: &'static str, entity_id: Uuid) -> Self {
        Self {
            kind: kind.into(),
            entity_type,
            entity_id,
            owner_id: None,
            metadata: serde_json::Value::Null,
            event: None,
            by_platform: false,
        }
    }

    /// The developer who owns the entity; they may read this change in the audit trail.
    pub fn owner(mut self, developer_id: Uuid) -> Self {
        self.owner_id = Some(developer_id);
        self
    }

    /// What the audit trail keeps: before and after values, never a secret.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The event published when the unit of work commits.
    pub fn publish(mut self, event: Event) -> Self {
        self.event = Some(event);
        self
    }

    /// The platform's own doing (placing a waiting instance), whoever's request led to it.
    pub fn by_platform(mut self) -> Self {
        self.by_platform = true;
        self
    }
}

pub struct UnitOfWork<'a> {
    txn: DatabaseTransaction,
    actor: &'a Actor,
    events: Vec<DomainEvent>,
}

impl<'a> UnitOfWork<'a> {
    pub async fn begin(actor: &'a Actor) -> AppResult<Self> {
        Ok(Self {
            // Every unit of work writes: on SQLite take the write lock at BEGIN, so concurrent
            // writers queue on the busy timeout instead of failing when a read upgrades.
            txn: actor
                .app
                .db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?,
            actor,
            events: Vec::new(),
        })
    }

    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// Writes the change's audit row and queues its event.
    pub async fn record(&mut self, change: Change) -> AppResult<()> {
        let actor = self.actor;
        let (actor_type, actor_id) = if change.by_platform {
            (ActorType::System, None)
        } else {
            actor.caller.audit_actor()
        };
        let (ip, user_agent) = if change.by_platform {
            (None, None)
        } else {
            (actor.meta.ip.clone(), actor.meta.user_agent.clone())
        };
        audit_events::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_type: Set(change.kind),
            actor_id: Set(actor_id),
            actor_type: Set(actor_type.as_str().to_owned()),
            entity_type: Set(change.entity_type.to_owned()),
            entity_id: Set(Some(change.entity_id)),
            owner_id: Set(change.owner_id),
            metadata: Set(change.metadata),
            ip: Set(ip),
            user_agent: Set(user_agent),
            created_at: Set(actor.now.into()),
        }
        .insert(&self.txn)
        .await?;
        if let Some(event) = change.event {
            self.publish(event);
        }
        Ok(())
    }

    /// Queues an event that has no audit row of its own (a consequence another change
    /// already recorded); it reaches subscribers only when `commit` succeeds.
    pub fn publish(&mut self, event: Event) {
        self.events.push(DomainEvent {
            kind: event.kind,
            entity_id: event.entity_id,
            developer_id: event.developer_id,
            data: event.data,
            occurred_at: self.actor.now,
        });
    }

    /// Applies `update` (already narrowed to one row) only while that row's `status` is still
    /// `expected`, the state the change was checked against: a concurrent change wins, and this
    /// one answers CONFLICT (CONCURRENT_UPDATE) instead of overwriting it.
    pub async fn compare_and_set<E: EntityTrait>(
        &self,
        update: UpdateMany<E>,
        status: E::Column,
        expected: &str,
    ) -> AppResult<()> {
        let applied = update.filter(status.eq(expected)).exec(&self.txn).await?;
        if applied.rows_affected == 0 {
            return Err(AppError::conflict(
                ConflictReason::ConcurrentUpdate,
                "it changed meanwhile; read it again and retry",
            ));
        }
        Ok(())
    }

    pub async fn commit(self) -> AppResult<()> {
        let Self { txn, actor, events } = self;
        let bus = &actor.app.bus;
        if bus.via_postgres() {
            // NOTIFY inside the transaction is delivered by PostgreSQL at commit, to every
            // listening gateway including this one, and discarded on rollback.
            for event in &events {
                let payload = serde_json::to_string(event).map_err(AppError::internal)?;
                txn.execute_raw(notify(CHANNEL, payload)).await?;
            }
            txn.commit().await?;
            bus.committed(&events);
        } else {
            txn.commit().await?;
            bus.committed(&events);
            for event in events {
                bus.deliver_locally(event);
            }
        }
        Ok(())
    }
}

impl Deref for UnitOfWork<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}
