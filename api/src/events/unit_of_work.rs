//! A transaction that carries the events it produces, so that an event is published if and only
//! if its change commits.

use super::bus::{CHANNEL, DomainEvent, EventBus, notify};
use crate::error::{AppError, AppResult};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use std::ops::Deref;

pub struct UnitOfWork {
    txn: DatabaseTransaction,
    bus: EventBus,
    events: Vec<DomainEvent>,
}

impl UnitOfWork {
    pub async fn begin(db: &DatabaseConnection, bus: &EventBus) -> AppResult<Self> {
        Ok(Self {
            // Every unit of work writes: on SQLite take the write lock at BEGIN, so concurrent
            // writers queue on the busy timeout instead of failing when a read upgrades.
            txn: db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?,
            bus: bus.clone(),
            events: Vec::new(),
        })
    }

    /// Queues an event; it reaches subscribers only when `commit` succeeds.
    pub fn publish(&mut self, event: DomainEvent) {
        self.events.push(event);
    }

    pub async fn commit(self) -> AppResult<()> {
        let Self { txn, bus, events } = self;
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

impl Deref for UnitOfWork {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}
