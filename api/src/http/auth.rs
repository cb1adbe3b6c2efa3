//! Reading the credential once, at the edge, for HTTP and WebSocket alike.

use crate::auth::{Caller, RequestMeta};
use crate::error::AppError;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use chrono::Utc;
use std::net::SocketAddr;

/// The caller named by an `Authorization: Bearer` value; none means anonymous.
pub fn caller_from_authorization(app: &AppState, value: Option<&str>) -> Result<Caller, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Caller::Anonymous);
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(AppError::Unauthenticated(
            "expected `Authorization: Bearer <token>`",
        ))?;
    app.jwt.verify(token.trim(), Utc::now())
}

pub fn caller_from_headers(app: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError::Unauthenticated("unreadable Authorization header"))
        })
        .transpose()?;
    caller_from_authorization(app, value)
}

pub fn request_meta(headers: &HeaderMap, peer: SocketAddr) -> RequestMeta {
    RequestMeta {
        ip: Some(peer.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}
