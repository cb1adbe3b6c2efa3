//! The HTTP status and `Retry-After` header of an answer that asks the client to come back.
//!
//! Two errors say when to retry, in `extensions.retryAfter` (seconds): SERVICE_UNAVAILABLE
//! (the database is out of reach) and RATE_LIMITED. An answer carrying either gets a
//! `Retry-After` header with the longest wait asked for. Its status follows the
//! GraphQL-over-HTTP rule for `application/graphql-response+json`: an answer with data, even
//! partial, is 200, so a client neither drops nor repeats what succeeded; an answer with no
//! data at all (`data` null in every response of a batch) is a refusal and takes the error's
//! status, 503 for SERVICE_UNAVAILABLE (before anything else), 429 for RATE_LIMITED.

use crate::error::{AppError, Code};
use async_graphql::{BatchResponse, Response as GraphQLAnswer, Value};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// What the HTTP layer adds to an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: StatusCode,
    /// Seconds for the `Retry-After` header, if the answer asks the client to come back.
    pub retry_after: Option<u64>,
}

impl Outcome {
    /// Sets the status and the `Retry-After` header on `response`.
    pub fn apply(self, mut response: Response) -> Response {
        *response.status_mut() = self.status;
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The outcome of an executed GraphQL request (or batch).
pub fn of_answer(answer: &BatchResponse) -> Outcome {
    let answers: &[GraphQLAnswer] = match answer {
        BatchResponse::Single(one) => std::slice::from_ref(one),
        BatchResponse::Batch(many) => many,
    };
    let mut unavailable = false;
    let mut limited = false;
    let mut retry_after: Option<u64> = None;
    for error in answers.iter().flat_map(|a| &a.errors) {
        let Some(extensions) = &error.extensions else {
            continue;
        };
        let code = match extensions.get("code") {
            Some(Value::String(code)) => code.as_str(),
            _ => continue,
        };
        if code == Code::ServiceUnavailable.as_str() {
            unavailable = true;
        } else if code == Code::RateLimited.as_str() {
            limited = true;
        } else {
            continue;
        }
        let seconds = match extensions.get("retryAfter") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
            _ => 1,
        };
        retry_after = retry_after.max(Some(seconds));
    }
    let refused = answers.iter().all(|a| a.data == Value::Null);
    let status = match (refused, unavailable, limited) {
        (true, true, _) => StatusCode::SERVICE_UNAVAILABLE,
        (true, false, true) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::OK,
    };
    Outcome {
        status,
        retry_after,
    }
}

/// The outcome of a credential that could not be read: 401, unless the failure is ours (500)
/// or asks the client to come back (503 or 429, with `Retry-After`).
pub fn of_credential_error(err: &AppError) -> Outcome {
    match err {
        AppError::ServiceUnavailable { retry_after } => Outcome {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(*retry_after),
        },
        AppError::RateLimited { retry_after } => Outcome {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(*retry_after),
        },
        AppError::Internal(_) => Outcome {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None,
        },
        _ => Outcome {
            status: StatusCode::UNAUTHORIZED,
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, Pos, ServerError};

    fn error(err: AppError) -> ServerError {
        async_graphql::Error::from(err).into_server_error(Pos::default())
    }

    fn refused(err: AppError) -> GraphQLAnswer {
        GraphQLAnswer::from_errors(vec![error(err)])
    }

    /// `{ a: 1 }` with `err` on another field.
    fn partial(err: AppError) -> GraphQLAnswer {
        let mut answer = GraphQLAnswer::new(data());
        answer.errors.push(error(err));
        answer
    }

    fn data() -> Value {
        Value::Object([(Name::new("a"), Value::from(1))].into_iter().collect())
    }

    fn unavailable() -> AppError {
        AppError::ServiceUnavailable { retry_after: 1 }
    }

    fn limited() -> AppError {
        AppError::RateLimited { retry_after: 60 }
    }

    fn outcome(status: StatusCode, retry_after: Option<u64>) -> Outcome {
        Outcome {
            status,
            retry_after,
        }
    }

    #[test]
    fn a_refusal_for_want_of_the_database_is_503_with_retry_after() {
        let answer = BatchResponse::Single(refused(unavailable()));
        assert_eq!(
            of_answer(&answer),
            outcome(StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
    }

    #[test]
    fn a_rate_limited_refusal_is_429_with_retry_after() {
        let answer = BatchResponse::Single(refused(limited()));
        assert_eq!(
            of_answer(&answer),
            outcome(StatusCode::TOO_MANY_REQUESTS, Some(60))
        );
    }

    #[test]
    fn a_partial_answer_stays_200_but_says_when_to_retry() {
        for (err, seconds) in [(unavailable(), 1), (limited(), 60)] {
            let answer = BatchResponse::Single(partial(err));
            assert_eq!(of_answer(&answer), outcome(StatusCode::OK, Some(seconds)));
        }
    }

    #[test]
    fn other_errors_and_successes_are_200_without_retry_after() {
        for answer in [
            GraphQLAnswer::new(data()),
            refused(AppError::NotFound("license")),
            refused(AppError::internal(anyhow::anyhow!("bug"))),
        ] {
            assert_eq!(
                of_answer(&BatchResponse::Single(answer)),
                outcome(StatusCode::OK, None)
            );
        }
    }

    #[test]
    fn a_batch_is_refused_only_when_no_operation_produced_data() {
        let all_refused = BatchResponse::Batch(vec![refused(limited()), refused(unavailable())]);
        assert_eq!(
            of_answer(&all_refused),
            outcome(StatusCode::SERVICE_UNAVAILABLE, Some(60)),
            "503 comes first; the longest wait is asked"
        );
        let one_answered = BatchResponse::Batch(vec![
            refused(unavailable()),
            GraphQLAnswer::new(Value::from(true)),
        ]);
        assert_eq!(of_answer(&one_answered), outcome(StatusCode::OK, Some(1)));
    }

    #[test]
    fn a_credential_that_cannot_be_read_now_is_503_or_429() {
        assert_eq!(
            of_credential_error(&unavailable()),
            outcome(StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
        assert_eq!(
            of_credential_error(&limited()),
            outcome(StatusCode::TOO_MANY_REQUESTS, Some(60))
        );
        assert_eq!(
            of_credential_error(&AppError::Unauthenticated("unknown license key")),
            outcome(StatusCode::UNAUTHORIZED, None)
        );
        assert_eq!(
            of_credential_error(&AppError::internal(anyhow::anyhow!("bug"))),
            outcome(StatusCode::INTERNAL_SERVER_ERROR, None)
        );
    }

    #[test]
    fn the_header_carries_the_seconds() {
        let response = outcome(StatusCode::SERVICE_UNAVAILABLE, Some(1))
            .apply(Response::new(axum::body::Body::empty()));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("1"))
        );
    }
}
