use super::log_listing::{self, LogFilter};
use super::logs::{self, LogEntry, LogLevel};
use crate::graphql::context::ContextExt;
use crate::graphql::pagination::{TotalCount, encode_cursor, page_args};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::instance_logs;
use uuid::Uuid;

/// How severe a log line is: DEBUG < INFO < WARN < ERROR.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum InstanceLogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl From<InstanceLogLevel> for LogLevel {
    fn from(level: InstanceLogLevel) -> Self {
        match level {
            InstanceLogLevel::Debug => LogLevel::Debug,
            InstanceLogLevel::Info => LogLevel::Info,
            InstanceLogLevel::Warn => LogLevel::Warn,
            InstanceLogLevel::Error => LogLevel::Error,
        }
    }
}

impl From<LogLevel> for InstanceLogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Debug => InstanceLogLevel::Debug,
            LogLevel::Info => InstanceLogLevel::Info,
            LogLevel::Warn => InstanceLogLevel::Warn,
            LogLevel::Error => InstanceLogLevel::Error,
        }
    }
}

/// One line an instance logged about itself.
pub struct InstanceLog(pub instance_logs::Model);

#[Object]
impl InstanceLog {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn instance_id(&self) -> Uuid {
        self.0.instance_id
    }
    async fn level(&self) -> InstanceLogLevel {
        // The table's CHECK admits only known levels.
        LogLevel::parse(&self.0.level)
            .unwrap_or(LogLevel::Error)
            .into()
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// Structured detail the instance attached, as it sent it.
    async fn context(&self) -> Option<Json<&serde_json::Value>> {
        self.0.context.as_ref().map(Json)
    }
    /// When the instance says it happened.
    async fn logged_at(&self) -> DateTime<Utc> {
        self.0.logged_at.with_timezone(&Utc)
    }
    /// When it arrived.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

#[derive(InputObject)]
pub struct InstanceLogInput {
    level: InstanceLogLevel,
    /// 1 to 10,000 characters.
    message: String,
    /// Any JSON value.
    context: Option<Json<serde_json::Value>>,
    /// When it happened; the time of arrival when absent.
    logged_at: Option<DateTime<Utc>>,
}

impl From<InstanceLogInput> for LogEntry {
    fn from(input: InstanceLogInput) -> Self {
        LogEntry {
            level: input.level.into(),
            message: input.message,
            context: input.context.map(|c| c.0),
            logged_at: input.logged_at,
        }
    }
}

#[derive(Default)]
pub struct InstanceLogsQuery;

#[Object]
impl InstanceLogsQuery {
    /// An instance's logs, newest first by `loggedAt`.
    ///
    /// Filter by severity with `level` for exactly that level, or `minLevel` for that level and
    /// every more severe one (DEBUG < INFO < WARN < ERROR); giving both is a VALIDATION error.
    /// `from` is inclusive and `to` exclusive, both on `loggedAt`.
    ///
    /// Readable by the instance's developer, admins, and the instance's own tokens; for anyone
    /// else the instance does not exist (NOT_FOUND).
    #[allow(clippy::too_many_arguments)]
    async fn instance_logs(
        &self,
        ctx: &Context<'_>,
        instance_id: Uuid,
        level: Option<InstanceLogLevel>,
        min_level: Option<InstanceLogLevel>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, InstanceLog, TotalCount>> {
        let app = ctx.app()?;
        let page = page_args(first, after, app.config.limits.max_page_size)?;
        let filter = LogFilter {
            level: level.map(Into::into),
            min_level: min_level.map(Into::into),
            from,
            to,
        };
        let caller = ctx.caller();
        let (rows, has_next) =
            log_listing::page(&app.db, caller, instance_id, &filter, &page).await?;
        let total = if ctx.look_ahead().field("totalCount").exists() {
            log_listing::count(&app.db, caller, instance_id, &filter).await?
        } else {
            0
        };
        let mut connection = Connection::with_additional_fields(
            page.after.is_some(),
            has_next,
            TotalCount::new(total),
        );
        connection.edges.extend(
            rows.into_iter()
                .map(|l| Edge::new(encode_cursor(l.id), InstanceLog(l))),
        );
        Ok(connection)
    }
}

#[derive(Default)]
pub struct InstanceLogsMutation;

#[Object]
impl InstanceLogsMutation {
    /// Stores up to 500 log lines for the calling instance, all or none, and answers how many.
    /// Only an instance token may call this (`Authorization: Bearer inst_...`); a bad entry is
    /// a VALIDATION error whose `field` names it, e.g. `entries[3].message`.
    async fn append_instance_logs(
        &self,
        ctx: &Context<'_>,
        entries: Vec<InstanceLogInput>,
    ) -> Result<usize> {
        let entries = entries.into_iter().map(LogEntry::from).collect();
        Ok(logs::append(ctx.app()?, ctx.caller(), entries, Utc::now()).await?)
    }
}
