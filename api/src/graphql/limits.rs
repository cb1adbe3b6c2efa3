//! Query cost limits, each refusal with its own `extensions.code`, checked on the request
//! before the engine runs it (`admit`), and codes for the errors the engine raises itself
//! (`coded`). Deliberately not an engine extension: with any extension registered the engine
//! describes every field it resolves to the extension chain (type names looked up and
//! formatted, boxed futures), a cost paid on every object of every answer; and fields answered
//! in place (`plain.rs`) would not be described to it.

use super::document::{
    Breach, InputBounds, check_repetition, field_depth, introspects_only, token_count,
};
use crate::error::Code;
use async_graphql::{ErrorExtensionValues, Request, Response, ServerError};

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
/// unwraps type references seven levels down, which puts it at 15. The engine's own depth
/// limit is set this much higher; `admit` holds every other document to `max_depth`.
pub const INTROSPECTION_EXTRA_DEPTH: usize = 4;

impl QueryLimits {
    /// Refuses a request whose document is too large, does not parse, nests too deep, asks for
    /// one field too often, or carries a text or list past its bounds. Complexity, introspection
    /// depth, parser recursion and directives are the engine's (see `coded`).
    pub fn admit(&self, request: &mut Request) -> Result<(), ServerError> {
        let tokens = token_count(&request.query);
        if tokens > self.max_tokens {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the document has {tokens} tokens; the limit is {}",
                        self.max_tokens
                    ),
                    None,
                ),
                Code::QueryTooLarge,
            ));
        }
        let variables = std::mem::take(&mut request.variables);
        let checked = self.check_document(request, &variables);
        request.variables = variables;
        checked
    }

    fn check_document(
        &self,
        request: &mut Request,
        variables: &async_graphql::Variables,
    ) -> Result<(), ServerError> {
        let document = request
            .parsed_query()
            .map_err(|err| with_code(err, Code::GraphqlParseFailed))?;
        if !introspects_only(document) {
            let depth = field_depth(document, self.max_depth + 1);
            if depth > self.max_depth {
                return Err(with_code(
                    ServerError::new(
                        format!(
                            "query is nested more than {} deep; the limit is {}",
                            self.max_depth, self.max_depth
                        ),
                        None,
                    ),
                    Code::QueryTooDeep,
                ));
            }
        }
        check_repetition(document, self.max_aliases)
            .map_err(|breach| breached(breach, Code::QueryTooComplex))?;
        let bounds = InputBounds {
            max_chars: self.max_string_chars,
            max_len: self.max_list_length,
        };
        bounds
            .check(variables, document)
            .map_err(|breach| breached(breach, Code::Validation))
    }
}

/// The answer with a code on every error: ours carry theirs; the engine's own get one by what
/// they say (its limits), and the rest (validation, inputs coerced during execution) say the
/// request does not fit the schema.
pub fn coded(mut response: Response) -> Response {
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(|err| {
            let code = engine_code(&err.message);
            with_code(err, code)
        })
        .collect();
    response
}

/// An answer refusing the request before it ran.
pub fn refused(err: ServerError) -> Response {
    Response::from_errors(vec![err])
}

fn engine_code(message: &str) -> Code {
    if message.starts_with("Query is nested too deep") {
        Code::QueryTooDeep
    } else if message.starts_with("Query is too complex") {
        Code::QueryTooComplex
    } else if message.starts_with("The recursion depth") {
        Code::QueryTooRecursive
    } else if message.starts_with("The number of directives") {
        Code::TooManyDirectives
    } else {
        Code::GraphqlValidationFailed
    }
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
