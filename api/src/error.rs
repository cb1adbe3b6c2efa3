//! The one error type of the service layer and its single mapping to GraphQL errors.
//!
//! Clients switch on `extensions.code`, never on the message. Internal errors are logged with
//! their whole chain and answered "internal error" only.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts anything
//! displayable into an error without extensions, and that path must not exist for this type.

use crate::vocabulary::text_enum;
use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

text_enum!(
    /// Every `extensions.code` the API answers, declared here once. The README's table of
    /// codes is checked against this list by a test.
    pub enum Code {
        Unauthenticated => "UNAUTHENTICATED",
        Forbidden => "FORBIDDEN",
        NotFound => "NOT_FOUND",
        Validation => "VALIDATION",
        Conflict => "CONFLICT",
        QuotaExceeded => "QUOTA_EXCEEDED",
        InvalidTransition => "INVALID_TRANSITION",
        RateLimited => "RATE_LIMITED",
        ServiceUnavailable => "SERVICE_UNAVAILABLE",
        QueryTooDeep => "QUERY_TOO_DEEP",
        QueryTooComplex => "QUERY_TOO_COMPLEX",
        QueryTooLarge => "QUERY_TOO_LARGE",
        QueryTooRecursive => "QUERY_TOO_RECURSIVE",
        TooManyDirectives => "TOO_MANY_DIRECTIVES",
        GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
        GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
        BadRequest => "BAD_REQUEST",
        UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        MethodNotAllowed => "METHOD_NOT_ALLOWED",
        Internal => "INTERNAL",
    }
);

text_enum!(
    /// Every CONFLICT `extensions.reason`, declared here once (the README lists them too).
    pub enum ConflictReason {
        EmailTaken => "EMAIL_TAKEN",
        PlanCodeTaken => "PLAN_CODE_TAKEN",
        MetricExists => "METRIC_EXISTS",
        SubdomainTaken => "SUBDOMAIN_TAKEN",
        InstanceDeleted => "INSTANCE_DELETED",
        AlreadyRevoked => "ALREADY_REVOKED",
        AlreadyAssigned => "ALREADY_ASSIGNED",
        NotAssigned => "NOT_ASSIGNED",
        SeatLimitReached => "SEAT_LIMIT_REACHED",
        LicenseNotUsable => "LICENSE_NOT_USABLE",
        TooManyMachines => "TOO_MANY_MACHINES",
        NotActive => "NOT_ACTIVE",
        ConcurrentUpdate => "CONCURRENT_UPDATE",
        /// The license a runtime node presented is not usable now, and why.
        Expired => "EXPIRED",
        Cancelled => "CANCELLED",
        Suspended => "SUSPENDED",
        Revoked => "REVOKED",
        Overdue => "OVERDUE",
    }
);

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
    /// The change conflicts with existing state; `reason` says how.
    Conflict {
        reason: ConflictReason,
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
    /// Too many attempts in a window; try again after this many seconds.
    RateLimited { retry_after: u64 },
    /// The database cannot be reached (or has no connection free): retry after this many
    /// seconds.
    ServiceUnavailable { retry_after: u64 },
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

    pub fn conflict(reason: ConflictReason, message: impl Into<String>) -> Self {
        Self::Conflict {
            reason,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable `extensions.code` for this error.
    pub fn code(&self) -> Code {
        match self {
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::Forbidden(_) => Code::Forbidden,
            Self::NotFound(_) => Code::NotFound,
            Self::Validation { .. } => Code::Validation,
            Self::Conflict { .. } => Code::Conflict,
            Self::QuotaExceeded { .. } => Code::QuotaExceeded,
            Self::InvalidTransition { .. } => Code::InvalidTransition,
            Self::RateLimited { .. } => Code::RateLimited,
            Self::ServiceUnavailable { .. } => Code::ServiceUnavailable,
            Self::Internal(_) => Code::Internal,
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
            Self::RateLimited { .. } => "too many requests, try again later".to_owned(),
            Self::ServiceUnavailable { .. } => {
                "the service is unavailable for a moment, try again later".to_owned()
            }
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
            ext.set("code", code.as_str());
            match &err {
                AppError::Validation { field, .. } => ext.set("field", field.as_str()),
                AppError::Conflict { reason, .. } => ext.set("reason", reason.as_str()),
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
                AppError::RateLimited { retry_after }
                | AppError::ServiceUnavailable { retry_after } => {
                    ext.set("retryAfter", *retry_after);
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

impl ConflictReason {
    /// What a client is told along with the reason, where it does not depend on the case.
    pub fn message(self) -> &'static str {
        match self {
            Self::EmailTaken => "an account with this email already exists",
            Self::PlanCodeTaken => "a plan with this code already exists",
            Self::MetricExists => "a metric with this code already exists",
            Self::SubdomainTaken => "this subdomain is in use",
            Self::InstanceDeleted => "the instance is deleted",
            Self::AlreadyRevoked => "this token is already revoked",
            Self::AlreadyAssigned => "this user already holds a seat on this license",
            Self::NotAssigned => "this seat is not currently assigned",
            Self::SeatLimitReached => "every seat of this license is taken",
            Self::LicenseNotUsable => "the license is not usable",
            Self::TooManyMachines => "the plan's runtime node limit is reached",
            Self::NotActive => "this node is already deactivated",
            Self::ConcurrentUpdate => "it changed meanwhile; read it again and retry",
            Self::Expired => "the license has expired",
            Self::Cancelled => "the license was cancelled",
            Self::Suspended => "the license is suspended",
            Self::Revoked => "the license was revoked",
            Self::Overdue => "payment is overdue beyond the grace period",
        }
    }
}

impl From<ConflictReason> for AppError {
    fn from(reason: ConflictReason) -> Self {
        AppError::conflict(reason, reason.message())
    }
}

/// Unique constraints a client can trip, by index name (PostgreSQL reports it) and by
/// `table.column` (SQLite reports that instead).
const UNIQUE_CONFLICTS: &[(&str, &str, ConflictReason)] = &[
    ("users_email_key", "users.email", ConflictReason::EmailTaken),
    (
        "license_assignments_active_key",
        "license_assignments.license_id",
        ConflictReason::AlreadyAssigned,
    ),
    (
        "instances_subdomain_key",
        "instances.subdomain",
        ConflictReason::SubdomainTaken,
    ),
    (
        "plans_code_key",
        "plans.code",
        ConflictReason::PlanCodeTaken,
    ),
];

fn conflict_for_constraint(detail: &str) -> Option<AppError> {
    UNIQUE_CONFLICTS
        .iter()
        .find(|(index, column, _)| detail.contains(index) || detail.contains(column))
        .map(|(_, _, reason)| AppError::from(*reason))
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
            (AppError::from(ConflictReason::EmailTaken), "CONFLICT"),
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
            (AppError::RateLimited { retry_after: 60 }, "RATE_LIMITED"),
            (
                AppError::ServiceUnavailable { retry_after: 1 },
                "SERVICE_UNAVAILABLE",
            ),
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
            assert_eq!(err.code(), Code::Conflict);
        }
        assert!(conflict_for_constraint("something_else").is_none());
    }
}

#[cfg(test)]
mod readme {
    use super::{Code, ConflictReason};
    use std::collections::BTreeSet;

    /// The backticked words in the first column of the table under `heading` in the README.
    fn first_column(heading: &str) -> BTreeSet<String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
        let section = readme
            .split_once(heading)
            .map(|(_, rest)| rest)
            .expect("heading in README");
        section
            .lines()
            .skip_while(|line| !line.starts_with('|'))
            .take_while(|line| line.starts_with('|'))
            .filter_map(|line| line.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_readme_lists_exactly_the_declared_codes() {
        let declared: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().into()).collect();
        assert_eq!(first_column("\n## Errors\n"), declared);
    }

    #[test]
    fn the_readme_lists_exactly_the_declared_conflict_reasons() {
        let declared: BTreeSet<String> = ConflictReason::ALL
            .iter()
            .map(|c| c.as_str().into())
            .collect();
        assert_eq!(first_column("\n### Conflict reasons\n"), declared);
    }
}
