//! The HTTP surface: GraphQL over POST, GET and WebSocket, GraphiQL, health probes.
//! - `graphql.rs`: the GraphQL routes; builds each request's actor.
//! - `auth.rs`: reading the credential (JWT, license key, instance token) once.
//! - `ws_session.rs`, `ws_rules.rs`: one WebSocket connection and the protocol rules around it.
//! - `documents.rs`: parsed documents kept by query text.
//! - `access_log.rs`: one log line per request.
//! - `idempotency/`: mutations sent with an `Idempotency-Key` run once.
//! - `status.rs`: the status and `Retry-After` of an answer that asks the client to come back.
//! - `graphiql.rs`, `health.rs`: the playground and the probes.
//! - `webhooks.rs`: the payment provider's signed webhooks.

mod access_log;
mod auth;
mod documents;
mod graphiql;
mod graphql;
mod health;
pub mod idempotency;
mod status;
mod webhooks;
mod ws_rules;
mod ws_session;

pub use documents::DocumentCache;

use crate::graphql::AppSchema;
use crate::state::AppState;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct HttpState {
    pub schema: AppSchema,
    pub app: AppState,
    pub documents: DocumentCache,
}

pub fn router(state: HttpState) -> Router {
    let body_limit = state.app.config.limits.body_limit_bytes;
    Router::new()
        .route("/", get(graphiql::page))
        .route("/playground/{file}", get(graphiql::asset))
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/webhooks/stripe", post(webhooks::stripe))
        // The GraphQL extractor reads the raw body, so axum's default limit would not apply.
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TraceLayer::new_for_http().on_failure(log_failure))
        // Defence in depth: a request that still panics gets a coded answer, and the process
        // (and every other request) carries on.
        .layer(CatchPanicLayer::custom(panicked))
        // Shared behind one pointer: axum hands every request its own copy of the state.
        .with_state(Arc::new(state))
}

/// The answer to a request whose handling panicked: INTERNAL, with nothing of the panic in it
/// (the panic itself is logged where it happened).
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({ "errors": [{
        "message": "internal error",
        "extensions": { "code": crate::error::Code::Internal.as_str() },
    }] });
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(body),
    )
        .into_response()
}

/// A 503 is an outage the client is told to retry, already logged as a warning where it was
/// mapped; any other server error stays an error.
fn log_failure(failure: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    let latency_ms = latency.as_millis();
    match failure {
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {
            tracing::warn!(classification = %failure, latency_ms, "response failed");
        }
        _ => tracing::error!(classification = %failure, latency_ms, "response failed"),
    }
}
