//! The licensing and subscription control plane: one GraphQL API over SQLite or PostgreSQL.
//!
//! `main.rs` is a thin command line over this library; tests build the same [`startup::App`].

pub mod auth;
pub mod budgets;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod graphql;
mod http;
pub mod paging;
pub mod polling;
pub mod rate_limit;
pub mod scale_seed;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod total_count;
pub mod vocabulary;

pub use startup::{App, build};
