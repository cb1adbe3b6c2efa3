//! Parsed GraphQL documents, kept by query text. Clients send the same few operations over and
//! over (a runtime node sends one, forever), and parsing is a tenth of a small request's CPU.
//! Only parsing is skipped: every request is still validated against its own variables.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{BatchRequest, Request};
use moka::sync::Cache;
use std::sync::Arc;

/// Longer documents are parsed each time: rare, and not worth the memory.
const MAX_CACHED_QUERY_BYTES: usize = 8 * 1024;

#[derive(Clone)]
pub struct DocumentCache {
    parsed: Cache<String, Arc<ExecutableDocument>>,
}

impl DocumentCache {
    pub fn new(entries: u64) -> Self {
        Self {
            parsed: Cache::new(entries),
        }
    }

    /// Hands the request its parsed document from the cache, parsing and keeping it first if
    /// needed. A document that does not parse is left alone, so execution reports the error.
    pub fn prepare(&self, mut request: Request) -> Request {
        if request.query.len() > MAX_CACHED_QUERY_BYTES {
            return request;
        }
        let document = match self.parsed.get(&request.query) {
            Some(document) => document,
            None => match async_graphql::parser::parse_query(&request.query) {
                Ok(document) => {
                    let document = Arc::new(document);
                    self.parsed.insert(request.query.clone(), document.clone());
                    document
                }
                Err(_) => return request,
            },
        };
        request.set_parsed_query(ExecutableDocument::clone(&document));
        request
    }

    pub fn prepare_batch(&self, batch: BatchRequest) -> BatchRequest {
        match batch {
            BatchRequest::Single(request) => BatchRequest::Single(self.prepare(request)),
            BatchRequest::Batch(requests) => {
                BatchRequest::Batch(requests.into_iter().map(|r| self.prepare(r)).collect())
            }
        }
    }
}
