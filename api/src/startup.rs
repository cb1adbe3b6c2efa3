//! Building the application: the same path for the binary and for tests.

use crate::auth::password::{self, Passwords};
use crate::auth::{Actor, JwtKeys};
use crate::budgets::{AddressBudgets, TokenBudgets};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, StatementCounter};
use crate::domain::accounts::service::{BootstrapAdmin, ensure_admin};
use crate::domain::entitlements::cache::EntitlementCache;
use crate::domain::license_files::signing::LicenseSigner;
use crate::domain::licenses::keys::LicenseKeys;
use crate::domain::mail;
use crate::domain::plans::seed::seed_plans;
use crate::domain::scheduler;
use crate::domain::sessions::liveness::Liveness;
use crate::domain::validation::lookup::LicenseLookup;
use crate::domain::webhooks;
use crate::events::EventBus;
use crate::graphql::{AppSchema, build_schema};
use crate::http::{DocumentCache, HttpState, router};
use crate::rate_limit::SharedLimiter;
use crate::state::{AppState, Shared};
use axum::Router;
use sea_orm::DbBackend;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    schema: AppSchema,
    statements: StatementCounter,
    bootstrap_admin: Option<BootstrapAdmin>,
}

impl App {
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// Every SQL statement sent so far.
    pub fn statements(&self) -> StatementCounter {
        self.statements.clone()
    }

    /// The first admin's credentials, when this start created it; shown once by the caller.
    pub fn take_bootstrap_admin(&mut self) -> Option<BootstrapAdmin> {
        self.bootstrap_admin.take()
    }

    /// Serves until SIGTERM (or Ctrl-C), then drains: readiness answers 503, no new
    /// connection is accepted, requests in flight finish, sockets close with 1001 (clients
    /// resume elsewhere from their cursor), and after `SHUTDOWN_DRAIN_SECONDS` at most the
    /// process goes whatever is still open.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let mut sockets = state.open_sockets.subscribe();
        let drain = Duration::from_secs(state.config.server.shutdown_drain_seconds);
        let (began, drain_began) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown_signal().await;
            tracing::info!(drain_seconds = drain.as_secs(), "shutting down: draining");
            state.draining.send_replace(true);
            let _ = began.send(());
        };
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future();
        let server = async move {
            let served = server.await;
            // The sockets are closing (1001): let them finish, within the drain time.
            let _ = sockets.wait_for(|open| *open == 0).await;
            served
        };
        let deadline = async move {
            if drain_began.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            served = server => served,
            () = deadline => {
                tracing::warn!("drain time over: leaving with connections still open");
                Ok(())
            }
        }
    }
}

/// Connects, migrates and seeds (when configured), makes sure an admin exists, and binds.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let migrate = config.database.auto_migrate;
    let (state, statements) = connect(config).await?;
    if migrate {
        db::migrate_up(&state.db).await?;
        seed_plans(&state.db, state.clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("seeding plans failed: {e:?}"))?;
    }
    // The log reader's statements are background work: they neither queue behind requests
    // for the pool nor count with theirs.
    let log_db = db::connect_background(&state.config.database, &state.db).await?;
    state.bus.start_reading(&log_db).await?;
    password::prepare();
    let bootstrap_admin = ensure_admin(&Actor::system(&state))
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin failed: {e:?}"))?;
    mail::delivery::start(&state).await?;
    webhooks::delivery::start(&state).await?;
    scheduler::runner::start(&state).await?;
    let schema = build_schema(&state);
    let router = router(HttpState {
        schema: schema.clone(),
        app: state.clone(),
        documents: DocumentCache::new(1024),
    });
    let address = format!("{}:{}", state.config.server.host, state.config.server.port);
    let listener = TcpListener::bind(&address).await?;
    Ok(App {
        listener,
        router,
        state,
        schema,
        statements,
        bootstrap_admin,
    })
}

/// The shared state over a fresh pool, without serving: for the command line's other verbs.
pub async fn connect(config: Config) -> anyhow::Result<(AppState, StatementCounter)> {
    let (db, statements) = db::connect(&config.database).await?;
    let bus = EventBus::start(&db, config.limits.ws_subscriber_buffer).await?;
    let entitlements = EntitlementCache::new(Duration::from_secs(
        config.licensing.entitlements_cache_ttl_seconds,
    ));
    entitlements.follow(&bus);
    let guesses = SharedLimiter::shared(
        "wrong_keys",
        config.licensing.validation_failures_per_minute,
        &bus,
    );
    let doors = SharedLimiter::shared("doors", config.auth.attempts_per_minute, &bus);
    let quota_notices = SharedLimiter::shared("quota_notices", 1, &bus);
    let token_budgets = TokenBudgets::shared(
        "budget.api_tokens",
        config.auth.api_token_reads_per_minute,
        config.auth.api_token_writes_per_minute,
        &bus,
    );
    let address_budgets = AddressBudgets::shared(
        "budget.addresses",
        config.auth.anonymous_reads_per_minute,
        config.auth.anonymous_writes_per_minute,
        &bus,
    );
    let liveness = Liveness::new();
    liveness.follow(&bus);
    let clock = Clock::default();
    let license_lookup = match db.get_database_backend() {
        DbBackend::Postgres => {
            let lanes = config.licensing.validation_lanes.max(1);
            let lanes_db =
                db::connect_lookup_lanes(&config.database, lanes as u32, &statements).await?;
            let batch_max = config.licensing.validation_batch_max;
            LicenseLookup::batched(lanes_db, clock.clone(), lanes, batch_max)
        }
        _ => LicenseLookup::Direct(db.clone()),
    };
    let state = AppState::new(Shared {
        entitlements,
        license_lookup,
        db,
        clock,
        jwt: JwtKeys::from_config(&config.auth),
        license_keys: LicenseKeys::new(config.auth.license_key_secret.clone()),
        license_signer: LicenseSigner::from_config(
            &config.licensing,
            &config.auth.license_key_secret,
        )?,
        bus,
        guesses,
        doors,
        quota_notices,
        token_budgets,
        address_budgets,
        passwords: Passwords::new(config.auth.password_hash_concurrency),
        liveness,
        payments: crate::domain::billing::provider::from_config(&config),
        draining: tokio::sync::watch::Sender::new(false),
        open_sockets: tokio::sync::watch::Sender::new(0),
        config: Arc::new(config),
    });
    Ok((state, statements))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
