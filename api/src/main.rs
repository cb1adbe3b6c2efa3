//! The gateway's command line: serve (default), migrate, seed, export-schema.

use api::config::Config;
use api::{db, startup};
use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    version,
    about = "GraphQL control plane for licensing and subscriptions"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Seed the plan catalogue, and optionally sample developers.
    Seed {
        /// Also add this many sample developers with licenses.
        #[arg(long, default_value_t = 0)]
        demo: u32,
        /// Also bulk-load this many developers, ten licenses each, for measuring at scale
        /// (PostgreSQL only).
        #[arg(long, default_value_t = 0)]
        scale: u32,
    },
    /// Print the GraphQL SDL (or write it to a file).
    ExportSchema {
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert migrations (the last one by default).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop everything and migrate from scratch.
    Fresh,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    api::telemetry::init();
    if let Some(Command::ExportSchema { out }) = &cli.command {
        let sdl = api::graphql::export_sdl();
        match out {
            Some(path) => std::fs::write(path, sdl)?,
            None => print!("{sdl}"),
        }
        return Ok(());
    }
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => {
            let (db, _) = db::connect(&config.database).await?;
            match action {
                MigrateAction::Up => db::migrate_up(&db).await?,
                MigrateAction::Down { steps } => db::migrate_down(&db, Some(steps)).await?,
                MigrateAction::Fresh => db::migrate_fresh(&db).await?,
                MigrateAction::Status => {
                    for (name, applied) in db::migration_status(&db).await? {
                        println!("{} {name}", if applied { "applied" } else { "pending" });
                    }
                }
            }
            Ok(())
        }
        Command::Seed { demo, scale } => {
            let (state, _) = startup::connect(config).await?;
            db::migrate_up(&state.db).await?;
            api::seed::run(&state, demo).await?;
            if scale > 0 {
                api::scale_seed::run(&state, scale).await?;
            }
            Ok(())
        }
        Command::ExportSchema { .. } => Ok(()),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let backend = config.backend_name();
    let mut app = api::build(config).await?;
    if let Some(admin) = app.take_bootstrap_admin() {
        // Printed once, to the terminal only: it is never logged and never shown again.
        println!(
            "First start: created admin {} with password {}",
            admin.email, admin.password
        );
        println!("Sign in with the `login` mutation and keep the password somewhere safe.");
    }
    let address = app.local_addr()?;
    println!("listening on http://{address} ({backend}); GraphiQL at http://{address}/");
    tracing::info!(%address, backend, "gateway started");
    app.run_until_stopped().await?;
    Ok(())
}
