//! GraphQL transport: POST with a JSON body, GET for queries only, WebSocket upgrades on GET.
//!
//! POST must carry a JSON content type (415 otherwise) and GET may not mutate (405), so a
//! form or `text/plain` post from another site cannot act on a signed-in user's behalf.

use super::HttpState;
use super::auth::{
    Credential, actor_for, caller_from_authorization, caller_from_headers, credential_expiry,
    request_meta,
};
use super::idempotency::{self, IdempotencyKey};
use super::{access_log, status, ws_session};
use crate::auth::RequestMeta;
use crate::budgets::Standing;
use crate::config::LimitsConfig;
use crate::error::{AppError, Code};
use crate::events::overrun::Overrun;
use crate::graphql::document::token_count;
use crate::graphql::limits::{coded, refused};
use crate::graphql::written::{self, Written};
use crate::graphql::{query_limits, scope_check, spending};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, Data};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A refusal in GraphQL's error shape, with a status code that says the same.
fn refusal(status: StatusCode, code: Code, message: &str) -> Response {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] });
    (status, axum::Json(body)).into_response()
}

fn unauthenticated(err: AppError) -> Response {
    // Instance tokens and license keys are looked up in the database, so reading a credential
    // can fail for reasons that are ours, not the caller's: a fault (500) or an outage (503).
    if let AppError::Internal(inner) = &err {
        tracing::error!(error = ?inner, "internal error while reading the credential");
    }
    let outcome = status::of_credential_error(&err);
    let mut extensions = json!({ "code": err.code().as_str() });
    if let Some(seconds) = outcome.retry_after {
        extensions["retryAfter"] = json!(seconds);
    }
    let body = json!({ "errors": [{ "message": err.message(), "extensions": extensions }] });
    outcome.apply(axum::Json(body).into_response())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

pub async fn post(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_json(&headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::UnsupportedMediaType,
            "send GraphQL requests as application/json",
        );
    }
    let meta = request_meta(&headers, peer, &state.app.config.server.trusted_proxies);
    let caller = match caller_from_headers(&state.app, &meta, &headers).await {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(err),
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "the body is not a GraphQL request",
            );
        }
    };
    if let Some(refused) = batch_refusal(&batch, &state.app.config.limits) {
        return refused;
    }
    let key = match idempotency::key_from(&headers) {
        Ok(key) => key,
        Err(err) => return idempotency::refusal(err),
    };
    execute(&state, batch, caller, meta, key).await
}

/// Batching is off unless `GRAPHQL_MAX_BATCH` allows it; a batch is capped, and its documents'
/// tokens count together against `GRAPHQL_MAX_TOKENS`, so a batch costs no more than one
/// document may.
fn batch_refusal(batch: &BatchRequest, limits: &LimitsConfig) -> Option<Response> {
    let BatchRequest::Batch(requests) = batch else {
        return None;
    };
    if requests.len() > limits.max_batch.max(1) {
        let message = if limits.max_batch <= 1 {
            "send one operation per request: batching is off".to_owned()
        } else {
            format!("at most {} operations per request", limits.max_batch)
        };
        return Some(refusal(StatusCode::BAD_REQUEST, Code::BadRequest, &message));
    }
    let tokens: usize = requests.iter().map(|r| token_count(&r.query)).sum();
    if tokens > limits.max_tokens {
        let message = format!(
            "the batch has {tokens} tokens; the limit is {}",
            limits.max_tokens
        );
        return Some(refusal(
            StatusCode::BAD_REQUEST,
            Code::QueryTooLarge,
            &message,
        ));
    }
    None
}

/// Runs a batch with its actor attached, logging it when the access log is on; a mutation with
/// an `Idempotency-Key` runs once for that key.
async fn execute(
    state: &HttpState,
    batch: BatchRequest,
    credential: Credential,
    meta: RequestMeta,
    key: Option<IdempotencyKey>,
) -> Response {
    let started = Instant::now();
    let mut batch = state.documents.prepare_batch(batch);
    let logged = access_log::enabled().then(|| {
        (
            access_log::operations(&mut batch),
            credential.caller.clone(),
        )
    });
    let actor = match actor_for(&state.app, credential, meta).await {
        Ok(actor) => actor,
        Err(err) => return unauthenticated(err),
    };
    let ran = AtomicBool::new(false);
    let run = |batch| async {
        ran.store(true, Ordering::Relaxed);
        let response = run_admitted(state, batch, actor.clone()).await;
        if let Some((operations, caller)) = &logged {
            access_log::record(started, caller, operations, &response);
        }
        response
    };
    match key {
        Some(key) if idempotency::mutates(&batch) => {
            let response = idempotency::once(&actor, key, batch, run).await;
            // A replayed or refused key ran nothing, but the request is still logged.
            if let Some((operations, caller)) = &logged
                && !ran.load(Ordering::Relaxed)
            {
                access_log::record_not_run(started, caller, operations, &response);
            }
            response
        }
        _ => {
            let response = run(batch).await;
            let outcome = status::of_answer(&response);
            outcome.apply(written_answer(&response))
        }
    }
}

/// The answer as the engine's own transport sends it (its type, its cache policy when nothing
/// failed, the headers resolvers set), written by `written::batch`.
fn written_answer(answer: &async_graphql::BatchResponse) -> Response {
    let mut response = Response::new(written::batch(answer).into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    if answer.is_ok()
        && let Some(policy) = answer.cache_control().value()
        && let Ok(policy) = HeaderValue::from_str(&policy)
    {
        headers.insert(header::CACHE_CONTROL, policy);
    }
    headers.extend(answer.http_headers());
    response
}

/// An API token's standing after the request, as `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset` (seconds until the window renews).
fn with_budget(mut answer: async_graphql::Response, standing: Standing) -> async_graphql::Response {
    for (name, value) in [
        ("ratelimit-limit", standing.limit as u64),
        ("ratelimit-remaining", standing.remaining as u64),
        ("ratelimit-reset", standing.reset),
    ] {
        answer.http_headers.insert(name, value.into());
    }
    answer
}

/// Runs each request of the batch the document limits (and an API token's scopes and budget)
/// admit, in order, and answers the others with their refusal; every error comes back with its
/// code.
async fn run_admitted(
    state: &HttpState,
    batch: BatchRequest,
    actor: crate::auth::Actor,
) -> async_graphql::BatchResponse {
    let limits = query_limits(&state.app.config.limits);
    let run = |mut request: async_graphql::Request| {
        let actor = actor.clone();
        async move {
            let admitted = limits
                .admit(&mut request)
                .and_then(|()| scope_check::admit(&mut request, &actor));
            if let Err(refusal) = admitted {
                return refused(refusal);
            }
            match spending::spend(&mut request, &actor).await {
                Ok(budget) => {
                    let request = request.data(actor).data(Written);
                    let answer = coded(state.schema.execute(request).await);
                    match budget {
                        Some(standing) => with_budget(answer, standing),
                        None => answer,
                    }
                }
                Err((refusal, standing)) => with_budget(refused(refusal), standing),
            }
        }
    };
    match batch {
        BatchRequest::Single(request) => async_graphql::BatchResponse::Single(run(request).await),
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(run(request).await);
            }
            async_graphql::BatchResponse::Batch(responses)
        }
    }
}

pub async fn get(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return websocket(state, peer, &mut parts).await;
    }
    let meta = request_meta(
        &parts.headers,
        peer,
        &state.app.config.server.trusted_proxies,
    );
    let caller = match caller_from_headers(&state.app, &meta, &parts.headers).await {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(err),
    };
    let query = parts.uri.query().unwrap_or_default();
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(request) => request,
        Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                Code::BadRequest,
                "expected ?query=...&variables=...",
            );
        }
    };
    if !is_read_only(&request) {
        let mut response = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::MethodNotAllowed,
            "mutations and subscriptions are not accepted over GET",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, BatchRequest::Single(request), caller, meta, None).await
}

/// Whether the operation a GET would run is a query. Unparsable documents count as queries:
/// executing them only produces the parse error.
fn is_read_only(request: &async_graphql::Request) -> bool {
    operation_type(request).is_none_or(|ty| ty == OperationType::Query)
}

/// The type of the operation `request` would run, if its document parses and names one.
pub(super) fn operation_type(request: &async_graphql::Request) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let operation = match &document.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match request.operation_name.as_deref() {
            Some(name) => ops.get(name),
            None if ops.len() == 1 => ops.values().next(),
            None => None,
        },
    };
    operation.map(|op| op.node.ty)
}

/// The GraphQL-over-WebSocket protocol the client asks for, the first one we speak.
fn requested_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

async fn websocket(
    state: Arc<HttpState>,
    peer: SocketAddr,
    parts: &mut axum::http::request::Parts,
) -> Response {
    let Some(protocol) = requested_protocol(&parts.headers) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "ask for the graphql-transport-ws (or graphql-ws) subprotocol",
        );
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let meta = request_meta(
        &parts.headers,
        peer,
        &state.app.config.server.trusted_proxies,
    );
    let header_caller = caller_from_headers(&state.app, &meta, &parts.headers).await;
    let header_value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // When the connection's credential expires or its session ends, the socket closes (4403).
    let lifetime = Arc::new(OnceLock::new());
    let learned = lifetime.clone();
    let endings = state.app.liveness.endings();
    let limits = &state.app.config.limits;
    let socket_limits = ws_session::SocketLimits {
        queries: query_limits(limits),
        init_timeout: Duration::from_secs(limits.ws_init_timeout_seconds),
        max_operations: limits.ws_max_operations,
        send_timeout: Duration::from_secs(limits.ws_send_timeout_seconds),
    };
    // How the socket's subscriptions tell it that one has fallen too far behind.
    let overrun = Overrun::default();
    let overrun_in_operations = overrun.clone();
    // A message may be no larger than a request body: the socket is not a way around it.
    upgrade
        .max_message_size(limits.body_limit_bytes)
        .max_frame_size(limits.body_limit_bytes)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let open = ws_session::OpenSocket::new(&state.app.open_sockets);
            let app = state.app.clone();
            let on_init = move |payload: serde_json::Value| async move {
                // The token may come in connection_init (browsers cannot set headers on a
                // WebSocket) or, for other clients, in the upgrade request's headers.
                let from_payload = ["Authorization", "authorization", "token"]
                    .iter()
                    .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                    .filter(|v| !v.trim().is_empty())
                    .map(str::to_owned);
                let presented = match from_payload {
                    Some(value) if value.contains(' ') => Some(value),
                    Some(value) => Some(format!("Bearer {value}")),
                    None => None,
                };
                let credential = match &presented {
                    Some(value) => caller_from_authorization(&app, &meta, Some(value)).await,
                    None => header_caller,
                }
                .map_err(async_graphql::Error::from)?;
                let ends_with = credential.ends_with;
                let used = presented.or(header_value);
                let expiry = credential
                    .expires_at
                    .or_else(|| credential_expiry(&app, used.as_deref()));
                let ends_at = expiry.map(|expires_at| {
                    let left = (expires_at - app.clock.now()).to_std().unwrap_or_default();
                    Instant::now() + left
                });
                // The connection's actor; each operation gets a copy at its own time.
                let actor = actor_for(&app, credential, meta)
                    .await
                    .map_err(async_graphql::Error::from)?;
                let _ = learned.set(ws_session::Lifetime { ends_at, ends_with });
                let mut data = Data::default();
                data.insert(actor);
                data.insert(overrun_in_operations);
                Ok(data)
            };
            async move {
                // Counted open until the socket closes.
                let _open = open;
                ws_session::serve(
                    socket,
                    state.schema.clone(),
                    protocol,
                    socket_limits,
                    lifetime,
                    ws_session::Closers {
                        endings,
                        draining: state.app.draining.subscribe(),
                        overrun,
                    },
                    on_init,
                )
                .await
            }
        })
}
