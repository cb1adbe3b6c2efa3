//! Safe retries: a mutation sent with an `Idempotency-Key` header runs once. The same caller
//! sending the same key and the same request within a day gets the first answer again, with
//! nothing done twice; the same key with another request is refused
//! (IDEMPOTENCY_KEY_MISMATCH); a key whose first request is still running answers CONFLICT
//! (IDEMPOTENCY_KEY_IN_FLIGHT). Queries are left alone: running them again changes nothing.
//!
//! Keys belong to the caller (a user, an API token, a license key, an instance token): one
//! caller's key never answers another's request. Anonymous requests have no one to keep a key
//! for, so a key sent without a credential is refused.

mod sealed;
mod store;

pub use store::KEPT;

use super::graphql::operation_type;
use super::status;
use crate::auth::{Actor, Caller};
use crate::error::{AppError, Code, ConflictReason};
use crate::graphql::written;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Pos, Value};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealed::Sealer;
use sha2::{Digest, Sha256};
use std::future::Future;
use store::{Claim, KeyedRequest};

pub const HEADER: &str = "idempotency-key";

/// Set on an answer given again from a key.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The longest key taken: room for any UUID or random token a client makes.
const MAX_KEY_LENGTH: usize = 255;

/// A key as the client sent it, checked.
pub struct IdempotencyKey(String);

/// The request's key, if it sent one: 1 to 255 visible ASCII characters, or a VALIDATION
/// refusal naming the header.
pub fn key_from(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().filter(|key| {
        !key.is_empty() && key.len() <= MAX_KEY_LENGTH && key.bytes().all(|b| b.is_ascii_graphic())
    });
    match key {
        Some(key) => Ok(Some(IdempotencyKey(key.to_owned()))),
        None => Err(AppError::validation(
            "Idempotency-Key",
            format!("send 1 to {MAX_KEY_LENGTH} visible ASCII characters, such as a UUID"),
        )),
    }
}

/// Whether any operation of the batch is a mutation (the only ones a key applies to).
pub fn mutates(batch: &BatchRequest) -> bool {
    let requests: &[async_graphql::Request] = match batch {
        BatchRequest::Single(one) => std::slice::from_ref(one),
        BatchRequest::Batch(many) => many,
    };
    requests
        .iter()
        .any(|request| operation_type(request) == Some(OperationType::Mutation))
}

/// Runs the batch once for `key`: the first time through `run`, keeping its answer unless it
/// asks to be retried; then from the stored answer.
pub async fn once<F, Fut>(
    actor: &Actor,
    key: IdempotencyKey,
    batch: BatchRequest,
    run: F,
) -> Response
where
    F: FnOnce(BatchRequest) -> Fut,
    Fut: Future<Output = BatchResponse>,
{
    let Some(caller) = keeper(actor) else {
        return refusal(AppError::validation(
            "Idempotency-Key",
            "keys are kept per caller: send the key with a credential",
        ));
    };
    let digest = digest(&batch);
    let sealer = Sealer::new(&actor.app.config.auth.license_key_secret, &caller, &key.0);
    let request = KeyedRequest {
        caller: &caller,
        key: sealer.lookup(),
        digest: &digest,
    };
    let db = &actor.app.db;
    let claim = match store::claim(db, &request, actor.app.clock.now()).await {
        Ok(Claim::Fresh(claim)) => claim,
        Ok(Claim::Replay { status, answer }) => {
            return match sealer.open(&answer) {
                Some(answer) => replay(status, answer),
                None => refusal(AppError::internal(anyhow::anyhow!(
                    "a stored idempotent answer does not open"
                ))),
            };
        }
        Err(err) => return refusal(err),
    };
    let answer = run(batch).await;
    let outcome = status::of_answer(&answer);
    let headers = answer.http_headers();
    let body = written::batch_string(&answer);
    let sealed = worth_keeping(&answer).then(|| sealer.seal(&body)).flatten();
    let kept = if let Some(sealed) = sealed {
        store::finish(db, claim, outcome.status.as_u16(), sealed).await
    } else {
        store::release(db, claim).await
    };
    if let Err(err) = kept {
        // The answer stands; the key stays claimed until its lease runs out.
        tracing::warn!(
            code = err.code().as_str(),
            "an idempotency key was not settled"
        );
    }
    let mut response = graphql_body(body);
    response.headers_mut().extend(headers);
    outcome.apply(response)
}

/// Who keeps the key: the API token rather than its owner, so that two tokens of one owner
/// keep their keys apart.
fn keeper(actor: &Actor) -> Option<String> {
    if let Some(token) = &actor.token {
        return Some(format!("token:{}", token.id));
    }
    match &actor.caller {
        Caller::User { id, .. } => Some(format!("user:{id}")),
        Caller::LicenseKey { license_id } => Some(format!("license:{license_id}")),
        Caller::InstanceToken { instance_id } => Some(format!("instance:{instance_id}")),
        Caller::Anonymous => None,
    }
}

/// SHA-256 of what the request asks: each operation's document, name and variables (as JSON
/// with sorted keys, so the order a client writes them in does not matter).
fn digest(batch: &BatchRequest) -> String {
    let requests: &[async_graphql::Request] = match batch {
        BatchRequest::Single(one) => std::slice::from_ref(one),
        BatchRequest::Batch(many) => many,
    };
    let mut hasher = Sha256::new();
    for request in requests {
        let variables = serde_json::to_value(&request.variables).unwrap_or_default();
        let part = serde_json::json!([request.query, request.operation_name, variables]);
        hasher.update(part.to_string().as_bytes());
        hasher.update([0]);
    }
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

/// An answer is kept unless it asks the client to come back (the database was out of reach,
/// a limit was hit, a concurrent change won) or failed on our side: a retry should run it.
fn worth_keeping(answer: &BatchResponse) -> bool {
    let answers: &[async_graphql::Response] = match answer {
        BatchResponse::Single(one) => std::slice::from_ref(one),
        BatchResponse::Batch(many) => many,
    };
    let passing = [Code::ServiceUnavailable, Code::RateLimited, Code::Internal].map(Code::as_str);
    !answers.iter().flat_map(|a| &a.errors).any(|error| {
        let Some(extensions) = &error.extensions else {
            return false;
        };
        let is = |name: &str, wanted: &str| {
            matches!(extensions.get(name), Some(Value::String(v)) if v == wanted)
        };
        passing.iter().any(|code| is("code", code))
            || is("reason", ConflictReason::ConcurrentUpdate.as_str())
    })
}

fn graphql_body(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/graphql-response+json"),
        )],
        body,
    )
        .into_response()
}

fn replay(status: u16, answer: String) -> Response {
    let mut response = graphql_body(answer);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// A refusal in GraphQL's error shape, its status saying the same.
pub fn refusal(err: AppError) -> Response {
    let status = match &err {
        AppError::Validation { .. } => StatusCode::BAD_REQUEST,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::IdempotencyKeyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let answer = BatchResponse::Single(async_graphql::Response::from_errors(vec![
        async_graphql::Error::from(err).into_server_error(Pos::default()),
    ]));
    let retry_after = status::of_answer(&answer).retry_after;
    let body = serde_json::to_string(&answer).unwrap_or_default();
    status::Outcome {
        status,
        retry_after,
    }
    .apply(graphql_body(body))
}
