use super::HttpState;
use crate::db::backend_name;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// The process is up.
pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers; 503 when it does not.
pub async fn ready(State(state): State<Arc<HttpState>>) -> (StatusCode, Json<Value>) {
    let backend = backend_name(&state.app.db);
    match state.app.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "backend": backend })),
        ),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "backend": backend })),
            )
        }
    }
}
