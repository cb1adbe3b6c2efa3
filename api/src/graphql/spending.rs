//! What a request spends of its caller's budget, before it runs: an API token's own budget, or
//! for a caller with no credential its address's. A mutation spends from the writes, anything
//! else from the reads. Runtime nodes presenting a license key as an argument (validating it,
//! activating, checking in, checking out a license file) spend nothing here: many may sit
//! behind one address, and wrong keys have a limit of their own.

use super::scope_check::operations;
use crate::auth::{Actor, Caller};
use crate::budgets::{Class, Standing};
use crate::error::Code;
use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::{ErrorExtensionValues, Request, ServerError};
use std::net::IpAddr;

/// Root fields a caller with no credential may ask for without spending from its address's
/// budget: a license key is the credential they take.
const KEY_DOORS: &[&str] = &[
    "validateLicense",
    "activateRuntimeNode",
    "checkIn",
    "checkoutLicenseFile",
    "licenseSigningKey",
    "__typename",
];

/// Spends one request of the caller's budget: `Ok(None)` for callers without one (people,
/// license keys, instances), `Ok(Some(standing))` within the budget, `Err` with the
/// RATE_LIMITED refusal and the standing past it. After the request's other checks.
pub async fn spend(
    request: &mut Request,
    actor: &Actor,
) -> Result<Option<Standing>, (ServerError, Standing)> {
    let operation = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Ok(None);
    };
    let writes = operations(document, operation.as_deref()).any(|ty| ty == OperationType::Mutation);
    let class = if writes { Class::Write } else { Class::Read };
    let now = actor.now.timestamp();
    let (spent, whose) = if let Some(token) = actor.token {
        (
            actor.app.token_budgets.spend(token.id, class, now).await,
            "this API token",
        )
    } else if actor.caller == Caller::Anonymous && !only_key_doors(request) {
        let Some(address) = actor
            .meta
            .ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
        else {
            return Ok(None);
        };
        (
            actor.app.address_budgets.spend(address, class, now).await,
            "this address",
        )
    } else {
        return Ok(None);
    };
    match spent {
        Ok(standing) => Ok(Some(standing)),
        Err(standing) => {
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", Code::RateLimited.as_str());
            extensions.set("retryAfter", standing.reset);
            let mut err = ServerError::new(
                format!(
                    "{whose} has spent its {} requests of this minute",
                    standing.limit
                ),
                None,
            );
            err.extensions = Some(extensions);
            Err((err, standing))
        }
    }
}

/// Whether every root field the operation selects is a license-key door.
fn only_key_doors(request: &mut Request) -> bool {
    let operation = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let selected = match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| {
                operation
                    .as_deref()
                    .is_none_or(|wanted| wanted == name.as_str())
            })
            .map(|(_, op)| op)
            .collect(),
    };
    selected.iter().all(|op| {
        op.node
            .selection_set
            .node
            .items
            .iter()
            .all(|item| match &item.node {
                Selection::Field(field) => KEY_DOORS.contains(&field.node.name.node.as_str()),
                Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
            })
    })
}
