//! The one error type of the service layer and its single mapping to GraphQL errors.
//!
//! Clients switch on `extensions.code`, never on the message. Internal errors are logged with
//! their whole chain and answered "internal error" only.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts anything
//! displayable into an error without extensions, and that path must not exist for this type.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

/// Every failure a service can report.
#[derive(Debug)]
pub enum AppError {
    /// No valid credential was presented.
    Unauthenticated(&'static str),
    /// The caller is known but may not do this.
    Forbidden(&'static str),
    /// The entity does not exist, or the caller may not know that it does.
    NotFound(&'static str),
    /// An input failed a rule; `field` names the input field.
    Validation { field: String, message: String },
    /// The change conflicts with existing state; `reason` is a stable machine-readable word.
    Conflict {
        reason: &'static str,
        message: String,
    },
    /// A metered limit would be crossed.
    QuotaExceeded {
        metric: String,
        limit: i64,
        current: i64,
        /// In a batch, the position of the item that would cross the limit.
        index: Option<usize>,
    },
    /// A state machine refuses the move.
    InvalidTransition { from: String, to: String },
    /// Too many attempts in a window.
    RateLimited,
    /// Anything else: logged, never shown.
    Internal(anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable `extensions.code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION",
            Self::Conflict { .. } => "CONFLICT",
            Self::QuotaExceeded { .. } => "QUOTA_EXCEEDED",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may read.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Forbidden(m) => (*m).to_owned(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Validation { field, message } => format!("{field}: {message}"),
            Self::Conflict { message, .. } => message.clone(),
            Self::QuotaExceeded { metric, limit, .. } => {
                format!("quota exceeded for {metric} (limit {limit})")
            }
            Self::InvalidTransition { from, to } => {
                format!("cannot move from {from} to {to}")
            }
            Self::RateLimited => "too many requests, try again later".to_owned(),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(inner) = &err {
            tracing::error!(error = ?inner, "internal error");
        }
        let code = err.code();
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", code);
            match &err {
                AppError::Validation { field, .. } => ext.set("field", field.as_str()),
                AppError::Conflict { reason, .. } => ext.set("reason", *reason),
                AppError::QuotaExceeded {
                    metric,
                    limit,
                    current,
                    index,
                } => {
                    ext.set("metric", metric.as_str());
                    ext.set("limit", *limit);
                    ext.set("current", *current);
                    if let Some(index) = index {
                        ext.set("index", *index);
                    }
                }
                AppError::InvalidTransition { from, to } => {
                    ext.set("from", from.as_str());
                    ext.set("to", to.as_str());
                }
                _ => {}
            }
        })
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => conflict_for_constraint(&detail)
                .unwrap_or_else(|| AppError::Internal(anyhow::Error::new(err))),
            _ => AppError::Internal(anyhow::Error::new(err)),
        }
    }
}

/// Unique constraints a client can trip, by index name (PostgreSQL reports it) and by
/// `table.column` (SQLite reports that instead).
const UNIQUE_CONFLICTS: &[(&str, &str, &str, &str)] = &[
    (
        "users_email_key",
        "users.email",
        "EMAIL_TAKEN",
        "an account with this email already exists",
    ),
    (
        "license_assignments_active_key",
        "license_assignments.license_id",
        "ALREADY_ASSIGNED",
        "this user already holds a seat on this license",
    ),
    (
        "instances_subdomain_key",
        "instances.subdomain",
        "SUBDOMAIN_TAKEN",
        "this subdomain is in use",
    ),
    (
        "plans_code_key",
        "plans.code",
        "PLAN_CODE_TAKEN",
        "a plan with this code already exists",
    ),
];

fn conflict_for_constraint(detail: &str) -> Option<AppError> {
    UNIQUE_CONFLICTS
        .iter()
        .find(|(index, column, _, _)| detail.contains(index) || detail.contains(column))
        .map(|(_, _, reason, message)| AppError::Conflict {
            reason,
            message: (*message).to_owned(),
        })
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: AppError) -> async_graphql::Value {
        let gql: async_graphql::Error = err.into();
        gql.extensions
            .and_then(|e| e.get("code").cloned())
            .unwrap_or(async_graphql::Value::Null)
    }

    #[test]
    fn each_variant_maps_to_its_stable_code() {
        let cases = [
            (AppError::Unauthenticated("x"), "UNAUTHENTICATED"),
            (AppError::Forbidden("x"), "FORBIDDEN"),
            (AppError::NotFound("license"), "NOT_FOUND"),
            (AppError::validation("email", "bad"), "VALIDATION"),
            (
                AppError::Conflict {
                    reason: "R",
                    message: "m".into(),
                },
                "CONFLICT",
            ),
            (
                AppError::QuotaExceeded {
                    metric: "m".into(),
                    limit: 1,
                    current: 1,
                    index: None,
                },
                "QUOTA_EXCEEDED",
            ),
            (
                AppError::InvalidTransition {
                    from: "a".into(),
                    to: "b".into(),
                },
                "INVALID_TRANSITION",
            ),
            (AppError::RateLimited, "RATE_LIMITED"),
            (
                AppError::internal(anyhow::anyhow!("secret detail")),
                "INTERNAL",
            ),
        ];
        for (err, code) in cases {
            assert_eq!(code_of(err), async_graphql::Value::from(code));
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let gql: async_graphql::Error =
            AppError::internal(anyhow::anyhow!("password=hunter2")).into();
        assert_eq!(gql.message, "internal error");
    }

    #[test]
    fn validation_names_the_field() {
        let gql: async_graphql::Error = AppError::validation("password", "too short").into();
        let field = gql.extensions.and_then(|e| e.get("field").cloned());
        assert_eq!(field, Some(async_graphql::Value::from("password")));
    }

    #[test]
    fn unique_email_violation_is_a_conflict_on_both_backends() {
        for detail in [
            "duplicate key value violates unique constraint \"users_email_key\"",
            "UNIQUE constraint failed: users.email",
        ] {
            let err = conflict_for_constraint(detail).expect("mapped");
            assert_eq!(err.code(), "CONFLICT");
        }
        assert!(conflict_for_constraint("something_else").is_none());
    }
}
