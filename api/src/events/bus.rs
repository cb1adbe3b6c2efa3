//! The event bus: an in-process broadcast of the durable event log (see `log.rs`), read by this
//! process after every commit: on PostgreSQL woken by LISTEN/NOTIFY so that every gateway
//! process sharing the database sees every committed change, in order, whatever its size.

use super::log::{self, Tail};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The PostgreSQL channel every gateway listens on.
pub const CHANNEL: &str = "gateway_events";

/// The PostgreSQL channel for signals: hints between gateway processes that are not domain
/// events and never reach subscribers.
pub const SIGNAL_CHANNEL: &str = "gateway_signals";

/// Sent to local subscribers when the bus may have missed events (its PostgreSQL listener lost
/// its connection): whoever caches must start over.
pub const RESYNC: &str = "bus.resync";

/// A committed change, as subscribers see it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DomainEvent {
    /// Dotted type, e.g. `license.created`.
    pub kind: String,
    pub entity_id: Uuid,
    /// The developer that owns the entity, for authorization of subscribers.
    pub developer_id: Option<Uuid>,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// Its place in the event log, which subscribers resume from (0: not logged, a notice of
    /// this process's own).
    #[serde(default)]
    pub position: i64,
}

/// `NOTIFY channel, payload` as a statement that binds both.
pub(super) fn notify(channel: &str, payload: String) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [channel.into(), payload.into()],
    )
}

/// A hint from another gateway process (this process never hears its own).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Signal {
    pub kind: String,
    pub data: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct SignalOnTheWire {
    /// Which process sent it.
    origin: u64,
    #[serde(flatten)]
    signal: Signal,
}

/// Called synchronously with every event this process commits, before `commit` returns.
pub type CommitHook = Arc<dyn Fn(&DomainEvent) + Send + Sync>;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<DomainEvent>>,
    via_postgres: bool,
    hooks: Arc<std::sync::RwLock<Vec<CommitHook>>>,
    signals: broadcast::Sender<Arc<Signal>>,
    /// Set on PostgreSQL, where other processes may listen.
    signal_db: Option<DatabaseConnection>,
    origin: u64,
    tail: Tail,
    buffer: usize,
}

impl EventBus {
    /// A bus for this database: on PostgreSQL it starts listening before it returns, so no event
    /// committed after this call is missed. `buffer` is how many events a subscriber may fall
    /// behind live delivery (the broadcast's ring, shared by all: memory does not grow with
    /// subscribers).
    pub async fn start(db: &DatabaseConnection, buffer: usize) -> anyhow::Result<Self> {
        let (sender, _) = broadcast::channel(buffer);
        let (signals, _) = broadcast::channel(1024);
        let origin = rand::random();
        let via_postgres = db.get_database_backend() == DbBackend::Postgres;
        let tail = Tail::default();
        if via_postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen_all([CHANNEL, SIGNAL_CHANNEL]).await?;
            let outlets = Outlets {
                events: sender.clone(),
                signals: signals.clone(),
                origin,
                tail: tail.clone(),
            };
            tokio::spawn(forward_notifications(listener, outlets));
        }
        Ok(Self {
            tail,
            sender,
            via_postgres,
            hooks: Arc::default(),
            signals,
            signal_db: via_postgres.then(|| db.clone()),
            origin,
            buffer,
        })
    }

    /// Tells the other gateway processes on this database, if any; a signal that cannot be sent
    /// is logged and dropped, never the caller's failure.
    pub async fn signal(&self, kind: &str, data: serde_json::Value) {
        let Some(db) = &self.signal_db else {
            return; // one process: nobody else to tell
        };
        let wire = SignalOnTheWire {
            origin: self.origin,
            signal: Signal {
                kind: kind.to_owned(),
                data,
            },
        };
        let sent = match serde_json::to_string(&wire) {
            Ok(payload) => db
                .execute_raw(notify(SIGNAL_CHANNEL, payload))
                .await
                .map(drop)
                .map_err(anyhow::Error::from),
            Err(err) => Err(err.into()),
        };
        if let Err(err) = sent {
            tracing::warn!(error = %err, kind, "could not signal the other gateways");
        }
    }

    /// Signals from other gateway processes.
    pub fn subscribe_signals(&self) -> broadcast::Receiver<Arc<Signal>> {
        self.signals.subscribe()
    }

    /// Runs `hook` on each event this process commits, as soon as it commits: a cache that must
    /// not serve its own writer a stale read cannot wait for the round trip through NOTIFY.
    pub fn on_local_commit(&self, hook: CommitHook) {
        self.hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hook);
    }

    pub(crate) fn committed(&self, events: &[DomainEvent]) {
        let hooks = self
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            for hook in hooks.iter() {
                hook(event);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<DomainEvent>> {
        self.sender.subscribe()
    }

    /// On PostgreSQL events travel through NOTIFY (sent inside the transaction, delivered on
    /// commit); elsewhere they are handed to local subscribers after commit.
    pub(crate) fn via_postgres(&self) -> bool {
        self.via_postgres
    }

    /// Starts delivering the event log to this process's subscribers, from its end as it
    /// stands (the log's table exists once the database is migrated).
    pub async fn start_reading(&self, db: &DatabaseConnection) -> anyhow::Result<()> {
        // A page half the ring: a subscriber that was current is never overrun by one page.
        let page = (self.buffer / 2).clamp(1, log::PAGE as usize) as u64;
        log::start_reader(db, self.tail.clone(), self.sender.clone(), page).await?;
        Ok(())
    }

    /// The last log position this process has delivered to its subscribers.
    pub fn tail(&self) -> i64 {
        self.tail.position()
    }

    /// Asks this process's log reader to look now: it has just committed events.
    pub(crate) fn wake(&self) {
        self.tail.wake();
    }
}

/// Where notifications go: events to subscribers, signals from other processes to theirs.
struct Outlets {
    events: broadcast::Sender<Arc<DomainEvent>>,
    signals: broadcast::Sender<Arc<Signal>>,
    origin: u64,
    tail: Tail,
}

impl Outlets {
    fn deliver(&self, notification: &sea_orm::sqlx::postgres::PgNotification) {
        let payload = notification.payload();
        if notification.channel() == SIGNAL_CHANNEL {
            match serde_json::from_str::<SignalOnTheWire>(payload) {
                Ok(wire) if wire.origin == self.origin => {}
                Ok(wire) => {
                    let _ = self.signals.send(Arc::new(wire.signal));
                }
                Err(err) => tracing::warn!(%err, "ignoring malformed signal"),
            }
            return;
        }
        // The payload is the committed position: the rows are read from the log.
        self.tail.wake();
    }
}

async fn forward_notifications(
    mut listener: sea_orm::sqlx::postgres::PgListener,
    outlets: Outlets,
) {
    loop {
        match listener.recv().await {
            Ok(notification) => outlets.deliver(&notification),
            // The pool was closed on purpose: shutting down.
            Err(sea_orm::sqlx::Error::PoolClosed) => break,
            Err(err) => {
                // The listener reconnects on its next recv; pause so a down database is not spun on.
                tracing::warn!(%err, "event listener lost its connection");
                let _ = outlets.events.send(Arc::new(DomainEvent {
                    kind: RESYNC.to_owned(),
                    entity_id: Uuid::nil(),
                    developer_id: None,
                    data: serde_json::Value::Null,
                    occurred_at: Utc::now(),
                    position: 0,
                }));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
