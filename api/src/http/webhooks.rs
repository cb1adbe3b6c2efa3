//! `POST /webhooks/stripe`: the payment provider's events. The signature is checked on the raw
//! body before anything is parsed or stored; a bad one is 400 and leaves no trace but a log
//! line. A received event is answered 200 whatever its handler did (a failure is kept as a
//! dead letter and retried here, not by the provider); a database outage is 503 with
//! `Retry-After`, so the provider sends it again.

use super::HttpState;
use super::auth::request_meta;
use crate::auth::{Actor, Caller};
use crate::domain::billing::{signature, webhooks};
use crate::error::AppError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn stripe(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = &state.app;
    let billing = &app.config.billing;
    let presented = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = app.clock.now();
    if let Err(refused) = signature::verify(
        presented,
        &body,
        &billing.stripe_webhook_secrets,
        billing.webhook_tolerance_seconds,
        now,
    ) {
        tracing::warn!(reason = refused.reason(), "payment webhook refused");
        return answer(
            StatusCode::BAD_REQUEST,
            json!({ "error": refused.reason() }),
        );
    }
    let meta = request_meta(&headers, peer, &app.config.server.trusted_proxies);
    let actor = Actor::new(app, Caller::Anonymous, meta);
    match webhooks::receive(&actor, &body).await {
        Ok(receipt) => answer(
            StatusCode::OK,
            json!({ "received": true, "outcome": receipt.as_str() }),
        ),
        Err(AppError::Validation { field, message }) => answer(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("{field}: {message}") }),
        ),
        Err(AppError::ServiceUnavailable { retry_after }) => {
            let mut response = answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "the service is unavailable for a moment" }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Err(other) => {
            if let AppError::Internal(inner) = &other {
                tracing::error!(error = ?inner, "payment webhook could not be stored");
            }
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal error" }),
            )
        }
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
