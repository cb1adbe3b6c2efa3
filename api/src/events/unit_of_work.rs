//! The unit of work: every mutation's one transaction, with the changes it records.
//!
//! A service opens one for its actor, makes its writes through it, and records each change once
//! with [`UnitOfWork::record`]: the audit row is written inside the transaction and the event for
//! subscribers is queued, to be published only if `commit` succeeds.

use super::bus::{CHANNEL, DomainEvent};
use crate::auth::{Actor, ActorType};
use crate::error::{AppError, AppResult, ConflictReason};
use entity::{audit_events, prelude::AuditEvents};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryTrait, Set, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    UpdateMany,
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
    /// Audit rows recorded, written at commit in one statement with the events' NOTIFY.
    audits: Vec<audit_events::ActiveModel>,
}

/// Audit rows written per statement, well under either database's parameter limit.
const AUDIT_ROWS_PER_STATEMENT: usize = 500;

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
            audits: Vec::new(),
        })
    }

    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// Queues the change's audit row and its event; both are written by `commit`, inside the
    /// transaction (nothing in a unit of work reads its own audit rows).
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
        self.audits.push(audit_events::ActiveModel {
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
        });
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
        let Self {
            txn,
            actor,
            events,
            mut audits,
        } = self;
        let bus = &actor.app.bus;
        // Every audit row but the last statement's worth, as plain inserts.
        while audits.len() > AUDIT_ROWS_PER_STATEMENT {
            let rest = audits.split_off(AUDIT_ROWS_PER_STATEMENT);
            AuditEvents::insert_many(std::mem::replace(&mut audits, rest))
                .exec_without_returning(&txn)
                .await?;
        }
        if bus.via_postgres() {
            // The last audit rows and every event's NOTIFY in one statement. NOTIFY inside the
            // transaction is delivered by PostgreSQL at commit, to every listening gateway
            // including this one, and discarded on rollback.
            let payloads = events
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>()
                .map_err(AppError::internal)?;
            if let Some(statement) = audit_and_notify(audits, payloads) {
                txn.execute_raw(statement).await?;
            }
            txn.commit().await?;
            bus.committed(&events);
        } else {
            if !audits.is_empty() {
                AuditEvents::insert_many(audits)
                    .exec_without_returning(&txn)
                    .await?;
            }
            txn.commit().await?;
            bus.committed(&events);
            for event in events {
                bus.deliver_locally(event);
            }
        }
        Ok(())
    }
}

/// One PostgreSQL statement writing `audits` and notifying every payload on the events'
/// channel: a data-modifying CTE runs whether or not its result is read.
fn audit_and_notify(
    audits: Vec<audit_events::ActiveModel>,
    payloads: Vec<String>,
) -> Option<Statement> {
    let insert =
        (!audits.is_empty()).then(|| AuditEvents::insert_many(audits).build(DbBackend::Postgres));
    match (insert, payloads.is_empty()) {
        (None, true) => None,
        (Some(insert), true) => Some(insert),
        (insert, false) => {
            let (prefix, mut values) = match insert {
                Some(insert) => (
                    format!("WITH audit AS ({}) ", insert.sql),
                    insert.values.map(|v| v.0).unwrap_or_default(),
                ),
                None => (String::new(), Vec::new()),
            };
            let channel = values.len() + 1;
            let sql = format!(
                "{prefix}SELECT pg_notify(${channel}, payload) FROM unnest(${}::text[]) AS payload",
                channel + 1
            );
            values.push(CHANNEL.into());
            values.push(payloads.into());
            Some(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
        }
    }
}

impl Deref for UnitOfWork<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}
