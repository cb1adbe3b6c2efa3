//! One log line per GraphQL request over HTTP: the operations (kind and name, or the first root
//! field of an anonymous one), who asked (kind and id, never a credential), how long it took and
//! the error codes it answered. Enough to follow a client's trouble without logging its data.
//! Nothing is computed unless the `gateway::access` target is enabled at INFO.

use crate::auth::Caller;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::{BatchRequest, BatchResponse, Request};
use std::time::Instant;

const TARGET: &str = "gateway::access";

/// Longer client-chosen names are cut: a log line is not a place to store them.
const MAX_NAME_CHARS: usize = 64;

pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

fn kind(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

fn describe(document: &ExecutableDocument, requested: Option<&str>) -> Option<String> {
    let (name, operation) = match (&document.operations, requested) {
        (DocumentOperations::Single(op), _) => (None, op),
        (DocumentOperations::Multiple(ops), Some(name)) => (Some(name), ops.get(name)?),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            let (name, op) = ops.iter().next()?;
            (Some(name.as_str()), op)
        }
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let label = match name {
        Some(name) => name.to_owned(),
        None => match operation
            .node
            .selection_set
            .node
            .items
            .first()
            .map(|s| &s.node)
        {
            Some(Selection::Field(field)) => field.node.name.node.to_string(),
            _ => "anonymous".to_owned(),
        },
    };
    let label: String = label.chars().take(MAX_NAME_CHARS).collect();
    Some(format!("{} {label}", kind(operation.node.ty)))
}

/// "query validateLicense", "mutation Signup", or "unparsed" for what did not parse.
fn operation(request: &mut Request) -> String {
    let requested = request.operation_name.clone();
    match request.parsed_query() {
        Ok(document) => describe(document, requested.as_deref()),
        Err(_) => None,
    }
    .unwrap_or_else(|| "unparsed".to_owned())
}

/// The operations of a batch, read before it runs.
pub fn operations(batch: &mut BatchRequest) -> Vec<String> {
    match batch {
        BatchRequest::Single(request) => vec![operation(request)],
        BatchRequest::Batch(requests) => requests.iter_mut().map(operation).collect(),
    }
}

fn caller_label(caller: &Caller) -> String {
    match caller {
        Caller::Anonymous => "anonymous".to_owned(),
        Caller::User { id, role } => format!("{}:{id}", role.as_str()),
        Caller::LicenseKey { license_id } => format!("license:{license_id}"),
        Caller::InstanceToken { instance_id } => format!("instance:{instance_id}"),
    }
}

pub fn record(started: Instant, caller: &Caller, operations: &[String], response: &BatchResponse) {
    let responses = match response {
        BatchResponse::Single(one) => std::slice::from_ref(one),
        BatchResponse::Batch(many) => many.as_slice(),
    };
    let codes: Vec<String> = responses
        .iter()
        .flat_map(|r| &r.errors)
        .map(|error| {
            error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .map_or_else(
                    || "NO_CODE".to_owned(),
                    |code| code.to_string().replace('"', ""),
                )
        })
        .collect();
    tracing::info!(
        target: TARGET,
        operations = %operations.join(", "),
        caller = %caller_label(caller),
        duration_us = started.elapsed().as_micros() as u64,
        errors = %codes.join(","),
        "graphql request"
    );
}

/// A request answered without running: an idempotent replay (its stored answer) or a key
/// refused before it ran; logged with its HTTP status in place of error codes.
pub fn record_not_run(
    started: Instant,
    caller: &Caller,
    operations: &[String],
    response: &axum::response::Response,
) {
    let replayed = response.headers().contains_key("idempotent-replayed");
    tracing::info!(
        target: TARGET,
        operations = %operations.join(", "),
        caller = %caller_label(caller),
        duration_us = started.elapsed().as_micros() as u64,
        status = response.status().as_u16(),
        replayed,
        "graphql request answered from its idempotency key"
    );
}
