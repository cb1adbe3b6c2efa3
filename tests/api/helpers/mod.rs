//! What every feature file builds on, one concern a file:
//! - `database`: a fresh, empty database per test, dropped with its `TestDb` guard.
//! - `server`: the gateway in this process on a loopback port (`spawn_app`), and `TestApp`,
//!   its HTTP client: `graphql`, `signup`, `login`, `admin_token`.
//! - `websocket`: graphql-transport-ws sockets and an open `Subscription`.
#![allow(dead_code)]

mod database;
mod server;
mod websocket;

pub use database::{fresh_database, on_postgres};
pub use server::{PASSWORD, SIGNUP, TestApp, error_code, spawn_app, spawn_app_with, test_config};
pub use websocket::{Subscription, WsSocket, connect_graphql_ws};
