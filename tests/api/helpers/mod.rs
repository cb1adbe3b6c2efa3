//! What every feature file builds on, one concern a file:
//! - `database`: a fresh, empty database per test (a temp SQLite file, or a new PostgreSQL
//!   database with `TEST_DATABASE_URL`), dropped with its `TestDb` guard.
//! - `server`: the gateway in this process on a loopback port (`spawn_app`, `spawn_app_with`,
//!   `spawn_patient_app`) and `TestApp`, its client: `graphql`, `graphql_counted`, `get`,
//!   `post`, `signup`, `login`, `admin_token`; `error_code` and `time` read answers.
//! - `websocket`: graphql-transport-ws sockets (`connect_graphql_ws`, `initialised_ws`,
//!   `send_json`) and an open `Subscription`.
//! - `process`: a second gateway as its own OS process, on the same database.
//! - `proxy`: the gateway on a fresh PostgreSQL database reached through a TCP proxy the test
//!   can cut, silence and restore (`spawn_app_behind_proxy`, `DbProxy`): an outage on demand.
//! - `logging`: `TEST_LOG=1` shows the servers' logs on stderr (`RUST_LOG` filters them).
//! - `smtp`: a mail server on a loopback port that keeps what it receives and can refuse
//!   recipients for a while (`SmtpReceiver`).
//! - `stripe_standin`: the payment provider's API on a loopback port, recording each request
//!   and answering as documented or with scripted failures (`StripeStandIn`); a webhook posted
//!   signed as the provider signs it (`post_signed_webhook`).
//! - `mailbox`: a gateway mailing to such a server (`app_with_mailbox`), and the token of the
//!   link a mail carries (`mailed_token`).
//! - `fixtures`: what a test needs in place before it starts, each a small builder answering
//!   ids, tokens and keys: a developer on a plan with its license key, a pool, an instance, a
//!   runtime node, an entitlement override, a team member joined by invitation, a key's
//!   validation code; and `Rows` written straight
//!   to the database for volume.
//! - `introspection`: the schema as a caller is shown it (`Schema::fetch`), and what a test
//!   generates from it: every root field, a selection of every field to a depth, and argument
//!   values from a `Filler`.

mod database;
mod fixtures;
mod introspection;
mod logging;
mod mailbox;
mod process;
mod proxy;
mod server;
mod smtp;
mod stripe_standin;
mod websocket;

pub use database::{fresh_database, on_postgres};
pub use fixtures::{Developer, Member, Rows};
pub use introspection::{Field, Filler, Operation, Schema, TypeRef};
pub use mailbox::{MAIL_PUBLIC_URL, app_with_mailbox, mailed_token};
pub use process::{spawn_gateway_process, spawn_gateway_process_with_piped_log};
pub use proxy::{DbProxy, spawn_app_behind_proxy};
pub use server::{
    PASSWORD, SIGNUP, TestApp, error_code, spawn_app, spawn_app_with, spawn_patient_app,
    test_config, time,
};
pub use smtp::SmtpReceiver;
pub use stripe_standin::{Recorded, StripeStandIn, post_signed_webhook};
pub use websocket::{
    Subscription, WsSocket, connect_graphql_ws, initialised_ws, next_json, receive, send_json,
    subscription_error,
};

// The crate's own modules that feature files reach into, named here so that a path moved in
// the crate is fixed in one place.
pub use api::auth::Actor;
pub use api::auth::opaque_token::INSTANCE as INSTANCE_TOKEN;
pub use api::db;
pub use api::domain::mail::model::{MailKind, OutgoingMail};
pub use api::domain::mail::service as mail;
pub use api::domain::validation::service as validation;
pub use api::events::UnitOfWork;
pub use api::graphql::export_sdl;
