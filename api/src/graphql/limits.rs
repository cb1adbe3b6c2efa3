//! Query cost limits, each refusal with its own `extensions.code`.
//!
//! async-graphql enforces depth and complexity with plain messages and no code, so this
//! extension measures them itself from the validation result; parse and validation failures
//! get codes too, so every error a client sees can be switched on.

use super::document::{Breach, InputBounds, check_repetition, introspects_only, token_count};
use crate::error::Code;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Variables,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_tokens: usize,
    pub max_aliases: usize,
    pub max_string_chars: usize,
    pub max_list_length: usize,
}

/// How much deeper a document that only introspects may go: the standard introspection query
/// unwraps type references seven levels down, which puts it at 15.
const INTROSPECTION_EXTRA_DEPTH: usize = 4;

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension {
            limits: *self,
            introspection_only: AtomicBool::new(false),
        })
    }
}

/// One request's limits, and what parsing learned of its document.
struct QueryLimitsExtension {
    limits: QueryLimits,
    introspection_only: AtomicBool,
}

fn with_code(mut err: ServerError, code: Code) -> ServerError {
    let extensions = err
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    err
}

/// A document limit's refusal, naming the input to blame when there is one.
fn breached(breach: Breach, code: Code) -> ServerError {
    let mut err = ServerError::new(breach.message, None);
    if let Some(field) = breach.field {
        err.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("field", field);
    }
    with_code(err, code)
}

fn refusal(message: String, code: Code) -> Vec<ServerError> {
    vec![with_code(ServerError::new(message, None), code)]
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let limits = &self.limits;
        let tokens = token_count(query);
        if tokens > limits.max_tokens {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the document has {tokens} tokens; the limit is {}",
                        limits.max_tokens
                    ),
                    None,
                ),
                Code::QueryTooLarge,
            ));
        }
        let document = next.run(ctx, query, variables).await.map_err(|err| {
            let code = if err.message.starts_with("The recursion depth") {
                Code::QueryTooRecursive
            } else if err.message.starts_with("The number of directives") {
                Code::TooManyDirectives
            } else {
                Code::GraphqlParseFailed
            };
            with_code(err, code)
        })?;
        self.introspection_only
            .store(introspects_only(&document), Ordering::Relaxed);
        check_repetition(&document, limits.max_aliases)
            .map_err(|breach| breached(breach, Code::QueryTooComplex))?;
        let bounds = InputBounds {
            max_chars: limits.max_string_chars,
            max_len: limits.max_list_length,
        };
        bounds
            .check(variables, &document)
            .map_err(|breach| breached(breach, Code::Validation))?;
        Ok(document)
    }

    /// Every error our resolvers raise carries a code; the ones without come from the engine
    /// coercing the request's inputs (an undefined variable, a value of the wrong type met
    /// during execution): the request does not fit the schema.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|e| with_code(e, Code::GraphqlValidationFailed))
            .collect();
        response
    }

    /// The same for each answer of a subscription.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        Box::pin(next.run(ctx, stream).map(|mut response| {
            response.errors = std::mem::take(&mut response.errors)
                .into_iter()
                .map(|e| with_code(e, Code::GraphqlValidationFailed))
                .collect();
            response
        }))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, Code::GraphqlValidationFailed))
                .collect::<Vec<_>>()
        })?;
        let limits = &self.limits;
        let max_depth = if self.introspection_only.load(Ordering::Relaxed) {
            limits.max_depth + INTROSPECTION_EXTRA_DEPTH
        } else {
            limits.max_depth
        };
        if result.depth > max_depth {
            return Err(refusal(
                format!(
                    "query is nested {} deep; the limit is {max_depth}",
                    result.depth
                ),
                Code::QueryTooDeep,
            ));
        }
        if result.complexity > limits.max_complexity {
            return Err(refusal(
                format!(
                    "query complexity is {}; the limit is {}",
                    result.complexity, limits.max_complexity
                ),
                Code::QueryTooComplex,
            ));
        }
        Ok(result)
    }
}
