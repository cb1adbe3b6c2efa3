//! The one error type of the service layer and its single mapping to GraphQL errors.
//!
//! Clients switch on `extensions.code`, never on the message. Internal errors are logged with
//! their whole chain and answered "internal error" only.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts anything
//! displayable into an error without extensions, and that path must not exist for this type.

use crate::vocabulary::text_enum;
use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr, sqlx};

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
        IdempotencyKeyMismatch => "IDEMPOTENCY_KEY_MISMATCH",
        Internal => "INTERNAL",
    }
);

text_enum!(
    /// Every CONFLICT `extensions.reason`, declared here once (the README lists them too).
    pub enum ConflictReason {
        EmailTaken => "EMAIL_TAKEN",
        PlanCodeTaken => "PLAN_CODE_TAKEN",
        PlanRetired => "PLAN_RETIRED",
        AlreadySubscribed => "ALREADY_SUBSCRIBED",
        SubscriptionEnded => "SUBSCRIPTION_ENDED",
        CursorExpired => "CURSOR_EXPIRED",
        MetricExists => "METRIC_EXISTS",
        SubdomainTaken => "SUBDOMAIN_TAKEN",
        PoolHostTaken => "POOL_HOST_TAKEN",
        InstanceDeleted => "INSTANCE_DELETED",
        AlreadyRevoked => "ALREADY_REVOKED",
        AlreadyAssigned => "ALREADY_ASSIGNED",
        AlreadyMember => "ALREADY_MEMBER",
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
        /// The first request sent with this `Idempotency-Key` is still running.
        IdempotencyKeyInFlight => "IDEMPOTENCY_KEY_IN_FLIGHT",
        /// A license file was asked for a fingerprint that is not a live runtime node of the
        /// license: none is activated, this one is not, or it missed its heartbeat.
        NoMachine => "NO_MACHINE",
        FingerprintScopeMismatch => "FINGERPRINT_SCOPE_MISMATCH",
        HeartbeatDead => "HEARTBEAT_DEAD",
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
    /// A change would leave several metered limits crossed (a plan change, say): each named.
    OverLimits(Vec<Overage>),
    /// A state machine refuses the move.
    InvalidTransition { from: String, to: String },
    /// The `Idempotency-Key` was sent before with another request.
    IdempotencyKeyMismatch,
    /// Too many attempts in a window; try again after this many seconds.
    RateLimited { retry_after: u64 },
    /// The database cannot be reached (or has no connection free): retry after this many
    /// seconds.
    ServiceUnavailable { retry_after: u64 },
    /// Anything else: logged, never shown.
    Internal(anyhow::Error),
}

/// One limit a change would leave crossed.
#[derive(Clone, Debug)]
pub struct Overage {
    pub metric: &'static str,
    pub limit: i64,
    pub current: i64,
    /// Whether `force` may free the surplus (some things are never taken away by force).
    pub releasable: bool,
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
            Self::QuotaExceeded { .. } | Self::OverLimits(_) => Code::QuotaExceeded,
            Self::InvalidTransition { .. } => Code::InvalidTransition,
            Self::IdempotencyKeyMismatch => Code::IdempotencyKeyMismatch,
            Self::RateLimited { .. } => Code::RateLimited,
            Self::ServiceUnavailable { .. } => Code::ServiceUnavailable,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// The message an operator reads where a background job records a failure: the cause of
    /// an internal error too, which a client is never shown.
    pub fn message_for_operators(&self) -> String {
        match self {
            Self::Internal(inner) => format!("{inner:#}"),
            other => other.message(),
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
            Self::OverLimits(overages) => {
                let named: Vec<String> = overages
                    .iter()
                    .map(|o| format!("{} ({} of {})", o.metric, o.current, o.limit))
                    .collect();
                format!("over the new limits: {}", named.join(", "))
            }
            Self::InvalidTransition { from, to } => {
                format!("cannot move from {from} to {to}")
            }
            Self::IdempotencyKeyMismatch => {
                "this Idempotency-Key was sent with another request: use a new key for a new request"
                    .to_owned()
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
                AppError::OverLimits(overages) => {
                    let limits: Vec<async_graphql::Value> = overages
                        .iter()
                        .map(|o| {
                            async_graphql::Value::from_json(serde_json::json!({
                                "metric": o.metric, "limit": o.limit,
                                "current": o.current, "releasable": o.releasable,
                            }))
                            .unwrap_or_default()
                        })
                        .collect();
                    ext.set("limits", limits);
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

/// How long a client is told to wait when the database is out of reach: the pool reconnects
/// on the next request, so a short pause is enough once the database is back.
pub const OUTAGE_RETRY_AFTER_SECONDS: u64 = 1;

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err()
            && let Some(conflict) = conflict_for_constraint(&detail)
        {
            return conflict;
        }
        if is_input_out_of_range(&err) {
            // The client's value reached the database and was refused there (a date or number
            // beyond a column's range): the input's fault, not ours, whatever check missed it.
            return AppError::validation("input", "a value is out of the range it may take");
        }
        if is_outage(&err) {
            // Expected while the database restarts or the pool is full, and not our fault:
            // a warning, without the URL (no sqlx error carries it).
            tracing::warn!(error = %err, "database unavailable");
            return AppError::ServiceUnavailable {
                retry_after: OUTAGE_RETRY_AFTER_SECONDS,
            };
        }
        AppError::Internal(anyhow::Error::new(err))
    }
}

/// PostgreSQL's data exceptions (class 22: a datetime or number out of range, an invalid text
/// representation): the statement was right, a value in it was not.
fn is_input_out_of_range(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            match err.as_ref() {
                sqlx::Error::Database(err) => err
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| pg.code().starts_with("22")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether the database could not be reached or could not serve now, as opposed to refusing
/// the statement: no connection came from the pool in time (or it is closed), the connection
/// failed or broke, or the server says it is shutting down, starting up or full. Anything
/// else, a wrong statement included, stays internal.
fn is_outage(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(RuntimeErr::SqlxError(_)) => true,
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            match err.as_ref() {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(err) => database_says_unavailable(err.as_ref()),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The server's own error code says it cannot serve now: on SQLite, the database is locked
/// by another writer past the busy timeout; on PostgreSQL, see [`sqlstate_is_outage`].
fn database_says_unavailable(err: &dyn sqlx::error::DatabaseError) -> bool {
    /// SQLite's primary result code for a database locked by another connection.
    const SQLITE_BUSY: i32 = 5;
    let Some(code) = err.code() else {
        return false;
    };
    if err
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // SQLite reports extended codes; the primary code is the low byte.
        return code.parse::<i32>().is_ok_and(|c| c & 0xff == SQLITE_BUSY);
    }
    sqlstate_is_outage(&code)
}

/// PostgreSQL SQLSTATEs that mean "not now" rather than "not this": connection exceptions
/// (class 08), too many connections (53300), and the server shutting down or starting up
/// (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
fn sqlstate_is_outage(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

impl ConflictReason {
    /// What a client is told along with the reason, where it does not depend on the case.
    pub fn message(self) -> &'static str {
        match self {
            Self::EmailTaken => "an account with this email already exists",
            Self::PlanCodeTaken => "a plan with this code already exists",
            Self::PlanRetired => "the plan is retired",
            Self::AlreadySubscribed => {
                "the license has a subscription already: change its plan instead"
            }
            Self::SubscriptionEnded => "the subscription has ended",
            Self::CursorExpired => "the cursor is past the event log's retention",
            Self::MetricExists => "a metric with this code already exists",
            Self::SubdomainTaken => "this subdomain is in use",
            Self::PoolHostTaken => "a pool with this host exists",
            Self::InstanceDeleted => "the instance is deleted",
            Self::AlreadyRevoked => "this token is already revoked",
            Self::AlreadyAssigned => "this user already holds a seat on this license",
            Self::AlreadyMember => "this address is already on the team",
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
            Self::IdempotencyKeyInFlight => {
                "the first request with this Idempotency-Key is still running: retry shortly"
            }
            Self::NoMachine => "the license has no activated runtime node",
            Self::FingerprintScopeMismatch => "this fingerprint is not activated on the license",
            Self::HeartbeatDead => "the runtime node missed its heartbeat deadline",
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
        "license_assignments_pending_key",
        "license_assignments.invitation_id",
        ConflictReason::AlreadyAssigned,
    ),
    (
        "invitations_pending_key",
        "invitations.developer_id",
        ConflictReason::ConcurrentUpdate,
    ),
    (
        "instances_subdomain_key",
        "instances.subdomain",
        ConflictReason::SubdomainTaken,
    ),
    (
        "plans_code_version_key",
        "plans.code",
        ConflictReason::PlanCodeTaken,
    ),
    (
        "plans_code_latest_key",
        "plans.code",
        ConflictReason::PlanCodeTaken,
    ),
    (
        "database_pools_host_key",
        "database_pools.host",
        ConflictReason::PoolHostTaken,
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
            (AppError::IdempotencyKeyMismatch, "IDEMPOTENCY_KEY_MISMATCH"),
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

    /// A database server's error, reduced to its code.
    #[derive(Debug)]
    struct ServerSays(&'static str);

    impl std::fmt::Display for ServerSays {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "server error {}", self.0)
        }
    }

    impl std::error::Error for ServerSays {}

    impl sqlx::error::DatabaseError for ServerSays {
        fn message(&self) -> &str {
            "server error"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn sqlx_err(err: sqlx::Error) -> sea_orm::RuntimeErr {
        sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(err))
    }

    fn io(kind: std::io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(kind, "the connection broke"))
    }

    fn server_says(code: &'static str) -> DbErr {
        DbErr::Exec(sqlx_err(sqlx::Error::Database(Box::new(ServerSays(code)))))
    }

    #[test]
    fn an_unreachable_or_full_database_is_service_unavailable() {
        use sea_orm::ConnAcquireErr;
        use std::io::ErrorKind;
        let cases = [
            // The pool: no connection in time (database down or pool exhausted), or closed.
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            // Opening a connection failed.
            DbErr::Conn(sqlx_err(io(ErrorKind::ConnectionRefused))),
            DbErr::Conn(sqlx_err(sqlx::Error::Database(Box::new(ServerSays(
                "57P03",
            ))))),
            // A connection broke under a statement.
            DbErr::Exec(sqlx_err(io(ErrorKind::ConnectionReset))),
            DbErr::Query(sqlx_err(io(ErrorKind::UnexpectedEof))),
            DbErr::Query(sqlx_err(io(ErrorKind::BrokenPipe))),
            DbErr::Exec(sqlx_err(sqlx::Error::PoolTimedOut)),
            DbErr::Query(sqlx_err(sqlx::Error::PoolClosed)),
            // PostgreSQL going down, starting up, full, or the link failing.
            server_says("57P01"),
            server_says("57P02"),
            server_says("57P03"),
            server_says("53300"),
            server_says("08006"),
            server_says("08003"),
        ];
        for err in cases {
            let shown = err.to_string();
            match AppError::from(err) {
                AppError::ServiceUnavailable { retry_after } => {
                    assert_eq!(retry_after, OUTAGE_RETRY_AFTER_SECONDS, "{shown}");
                }
                other => panic!("{shown} answered {:?}", other.code()),
            }
        }
    }

    #[test]
    fn a_wrong_statement_stays_internal() {
        let cases = [
            server_says("42703"), // undefined column
            server_says("42601"), // syntax error
            server_says("23503"), // foreign key violation
            server_says("22P02"), // invalid text representation
            server_says("40001"), // serialization failure
            DbErr::Query(sqlx_err(sqlx::Error::ColumnNotFound("x".into()))),
            DbErr::Query(sqlx_err(sqlx::Error::Protocol("unexpected message".into()))),
            DbErr::Exec(sea_orm::RuntimeErr::Internal("bad statement".into())),
            DbErr::Conn(sea_orm::RuntimeErr::Internal(
                "Dropping a locked Transaction".into(),
            )),
            DbErr::RecordNotUpdated,
            DbErr::Type("no such value".into()),
        ];
        for err in cases {
            let shown = err.to_string();
            assert_eq!(AppError::from(err).code(), Code::Internal, "{shown}");
        }
    }

    /// A real SQLite database locked by another connection past its busy timeout.
    #[tokio::test]
    async fn a_locked_sqlite_database_is_service_unavailable_and_a_bad_statement_is_not() {
        use sqlx::sqlite::SqliteConnectOptions;
        use sqlx::{Connection, Executor};
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("locked.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        holder
            .execute("CREATE TABLE t (x INTEGER NOT NULL)")
            .await
            .expect("create");
        holder.execute("BEGIN EXCLUSIVE").await.expect("lock");
        let mut other = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        let busy = other
            .execute("INSERT INTO t VALUES (1)")
            .await
            .expect_err("locked");
        let busy = AppError::from(DbErr::Exec(sqlx_err(busy)));
        assert_eq!(busy.code(), Code::ServiceUnavailable);
        holder.execute("COMMIT").await.expect("unlock");
        let wrong = other
            .execute("INSERT INTO t VALUES (NULL)")
            .await
            .expect_err("not null");
        assert_eq!(
            AppError::from(DbErr::Exec(sqlx_err(wrong))).code(),
            Code::Internal
        );
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
