use super::HttpState;
use crate::db::backend_name;
use crate::error::OUTAGE_RETRY_AFTER_SECONDS;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The process is up.
pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers; 503 with `Retry-After` when it does not, within the acquire timeout
/// (a connection that takes a request but never answers counts as down too).
pub async fn ready(State(state): State<Arc<HttpState>>) -> Response {
    let backend = backend_name(&state.app.db);
    if *state.app.draining.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "backend": backend })),
        )
            .into_response();
    }
    let patience = Duration::from_secs(state.app.config.database.acquire_timeout_seconds);
    let failure = match tokio::time::timeout(patience, state.app.db.ping()).await {
        Ok(Ok(())) => {
            return Json(json!({ "status": "ready", "backend": backend })).into_response();
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {}s", patience.as_secs()),
    };
    tracing::warn!(error = %failure, "readiness check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, OUTAGE_RETRY_AFTER_SECONDS.to_string())],
        Json(json!({ "status": "unavailable", "backend": backend })),
    )
        .into_response()
}
