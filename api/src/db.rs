//! Connecting to the database (SQLite file or PostgreSQL), migrating it, and counting statements.

use crate::config::DatabaseConfig;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, Statement};
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts every SQL statement the application sends, so tests can pin the cost of a query,
/// and on request keeps the statements themselves, so tests can ask the planner about them.
#[derive(Clone, Debug, Default)]
pub struct StatementCounter(Arc<Statements>);

#[derive(Debug, Default)]
struct Statements {
    sent: AtomicU64,
    recording: AtomicBool,
    recorded: Mutex<Vec<Statement>>,
}

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    /// Keeps every statement sent from now until `take_recorded`.
    pub fn record(&self) {
        self.0.recording.store(true, Ordering::SeqCst);
    }

    /// The statements sent since `record`, which stops keeping them.
    pub fn take_recorded(&self) -> Vec<Statement> {
        self.0.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.0.recorded.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn sent(&self, statement: &Statement) {
        self.0.sent.fetch_add(1, Ordering::Relaxed);
        if self.0.recording.load(Ordering::Relaxed) {
            let mut recorded = self.0.recorded.lock().unwrap_or_else(|e| e.into_inner());
            recorded.push(statement.clone());
        }
    }
}

/// Opens the pool described by the config, creating the SQLite file's folder if needed.
pub async fn connect(
    config: &DatabaseConfig,
) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    let url = config.url.expose_secret();
    if let Some(folder) = sqlite_folder(url) {
        std::fs::create_dir_all(folder)?;
    }
    let counter = StatementCounter::default();
    let db = open(config, config.max_connections, &counter, |_| {}).await?;
    Ok((db, counter))
}

/// PostgreSQL connections of their own for the license lookup lanes, one a lane, counted with
/// the rest. They keep one generic plan for the batch statement: its cost estimate depends on
/// how many keys the arrays carry, so PostgreSQL would otherwise plan it afresh for every
/// batch, which costs more than running it.
pub async fn connect_lookup_lanes(
    config: &DatabaseConfig,
    lanes: u32,
    counter: &StatementCounter,
) -> anyhow::Result<DatabaseConnection> {
    open(config, lanes, counter, |options| {
        options
            .map_sqlx_postgres_opts(|pg| pg.options([("plan_cache_mode", "force_generic_plan")]));
    })
    .await
}

/// A connection of its own for background work (mail delivery): its statements neither wait
/// behind requests for the pool nor count with theirs. An in-memory SQLite database exists only
/// in the pool that opened it, so there the work shares `main`.
pub async fn connect_background(
    config: &DatabaseConfig,
    main: &DatabaseConnection,
) -> anyhow::Result<DatabaseConnection> {
    let url = config.url.expose_secret();
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(main.clone());
    }
    open(config, 1, &StatementCounter::default(), |_| {}).await
}

async fn open(
    config: &DatabaseConfig,
    max_connections: u32,
    counter: &StatementCounter,
    adjust: impl FnOnce(&mut ConnectOptions),
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(config.url.expose_secret().to_owned());
    options
        .max_connections(max_connections.max(1))
        .min_connections(1)
        // While the database is down a request fails after this long (SERVICE_UNAVAILABLE)
        // instead of queueing for the pool's default half minute.
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_seconds))
        // Pinging every checkout doubles the round trips of a one-statement request; a
        // connection busy within the last half minute is alive, an older one is pinged first.
        // One that broke fails its request and is dropped when released (the pool pings
        // every returned connection), so after an outage the pool refills with new ones.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    adjust(&mut options);
    let mut db = Database::connect(options).await?;
    let hook = counter.clone();
    db.set_metric_callback(move |info| hook.sent(info.statement));
    Ok(db)
}

/// The folder a `sqlite://path/file.db` URL points into, if it names one.
fn sqlite_folder(url: &str) -> Option<&std::path::Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> anyhow::Result<()> {
    Migrator::down(db, steps).await?;
    Ok(())
}

pub async fn migrate_fresh(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::fresh(db).await?;
    Ok(())
}

/// Each migration's name and whether it has been applied.
pub async fn migration_status(db: &DatabaseConnection) -> anyhow::Result<Vec<(String, bool)>> {
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let done = applied.contains(&name);
            (name, done)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::sqlite_folder;
    use std::path::Path;

    #[test]
    fn sqlite_folder_is_found_for_file_urls_only() {
        assert_eq!(
            sqlite_folder("sqlite://data/gateway.db?mode=rwc"),
            Some(Path::new("data"))
        );
        assert_eq!(sqlite_folder("sqlite::memory:"), None);
        assert_eq!(sqlite_folder("sqlite://gateway.db"), None);
        assert_eq!(sqlite_folder("postgres://localhost/x"), None);
    }
}
