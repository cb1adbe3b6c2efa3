//! The unit of work: every mutation's one transaction, with the changes it records.
//!
//! A service opens one for its actor, makes its writes through it, and records each change once
//! with [`UnitOfWork::record`]: the audit row is written inside the transaction and the event for
//! subscribers is queued, to be published only if `commit` succeeds.

use super::bus::{CHANNEL, DomainEvent};
use crate::auth::{Actor, ActorType};
use crate::domain::webhooks::outbox::{self as webhook_outbox, FanOut};
use crate::error::{AppError, AppResult, ConflictReason};
use entity::{audit_events, event_log, prelude::AuditEvents, prelude::EventLog};
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
            actor.audit_actor()
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
            position: 0,
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
        // Deliveries to the webhook endpoints that want these events, written with them.
        let webhooks = webhook_outbox::fan_out(
            txn.get_database_backend(),
            &events,
            actor.now,
            actor.app.config.webhooks.retry_until(actor.now),
        );
        // Every audit row but the last statement's worth, as plain inserts.
        while audits.len() > AUDIT_ROWS_PER_STATEMENT {
            let rest = audits.split_off(AUDIT_ROWS_PER_STATEMENT);
            AuditEvents::insert_many(std::mem::replace(&mut audits, rest))
                .exec_without_returning(&txn)
                .await?;
        }
        if bus.via_postgres() {
            // The last audit rows, the events' log rows and one NOTIFY of the highest position,
            // in one statement. NOTIFY inside the transaction is delivered by PostgreSQL at
            // commit, to every listening gateway including this one, and dropped on rollback.
            if let Some(statement) = audit_and_log(audits, &events, webhooks) {
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
            if !events.is_empty() {
                EventLog::insert_many(events.iter().map(log_row))
                    .exec_without_returning(&txn)
                    .await?;
            }
            if let Some(out) = webhooks {
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("WITH {} {}", out.events_cte, out.insert),
                    out.values,
                ))
                .await?;
            }
            txn.commit().await?;
            bus.committed(&events);
            bus.wake();
        }
        Ok(())
    }
}

/// An event as its log row (the database numbers it).
fn log_row(event: &DomainEvent) -> event_log::ActiveModel {
    event_log::ActiveModel {
        kind: Set(event.kind.clone()),
        entity_id: Set(event.entity_id),
        developer_id: Set(event.developer_id),
        data: Set(event.data.clone()),
        occurred_at: Set(event.occurred_at.into()),
        ..Default::default()
    }
}

/// `sql`'s numbered placeholders moved up by `by`, so that it can follow another statement's
/// in one. Every value is a placeholder, so a `$` followed by digits is one.
fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// One PostgreSQL statement writing `audits`, the events' log rows and their webhook
/// deliveries, and notifying the highest position written: data-modifying CTEs run whether or
/// not their result is read.
fn audit_and_log(
    audits: Vec<audit_events::ActiveModel>,
    events: &[DomainEvent],
    webhooks: Option<FanOut>,
) -> Option<Statement> {
    let audit =
        (!audits.is_empty()).then(|| AuditEvents::insert_many(audits).build(DbBackend::Postgres));
    if events.is_empty() {
        return audit;
    }
    let (mut sql, mut values) = match audit {
        Some(audit) => (
            format!("WITH audit AS ({}), ", audit.sql),
            audit.values.map(|v| v.0).unwrap_or_default(),
        ),
        None => ("WITH ".to_owned(), Vec::new()),
    };
    let logged = EventLog::insert_many(events.iter().map(log_row)).build(DbBackend::Postgres);
    sql.push_str(&format!(
        "logged AS ({} RETURNING position) ",
        shift_placeholders(&logged.sql, values.len())
    ));
    values.extend(logged.values.map(|v| v.0).unwrap_or_default());
    if let Some(out) = webhooks {
        sql.push_str(&format!(
            ", {}, webhook_deliveries_out AS ({}) ",
            shift_placeholders(&out.events_cte, values.len()),
            shift_placeholders(&out.insert, values.len()),
        ));
        values.extend(out.values);
    }
    sql.push_str(&format!(
        "SELECT pg_notify(${}, max(position)::text) FROM logged",
        values.len() + 1
    ));
    values.push(CHANNEL.into());
    Some(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

impl Deref for UnitOfWork<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[cfg(test)]
mod tests {
    use super::shift_placeholders;

    #[test]
    fn placeholders_move_up_and_nothing_else_changes() {
        assert_eq!(
            shift_placeholders(
                r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($10, $11)"#,
                5
            ),
            r#"INSERT INTO "t" ("a", "b") VALUES ($6, $7), ($15, $16)"#
        );
        assert_eq!(
            shift_placeholders("no placeholders $", 3),
            "no placeholders $"
        );
    }
}
