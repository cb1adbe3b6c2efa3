use super::listing::{self, Line, LogFilter};
use super::model::{LogEntry, LogLevel};
use super::service as logs;
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen};
use crate::graphql::plain::{Plain, plain_fields};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::instance_logs;
use uuid::Uuid;

/// A log line as the schema shows it (its fields answered in place).
pub type InstanceLog = Plain<InstanceLogObject>;

/// One line an instance logged about itself.
pub struct InstanceLogObject(instance_logs::Model);

impl Guarded for InstanceLog {
    type Row = Line;

    fn audience((line, developer): &Line) -> Audience {
        Audience::Instance {
            id: line.instance_id,
            developer: *developer,
        }
    }

    fn wrap((line, _): Line, _: Seen) -> Self {
        Plain(InstanceLogObject(line))
    }
}

plain_fields!(InstanceLogObject {
    "id" => value(id),
    "instanceId" => value(instance_id),
    "level" => fallible(level),
    "message" => value(message),
    "context" => value(context),
    "loggedAt" => value(logged_at),
    "createdAt" => value(created_at),
});

#[Object(name = "InstanceLog")]
impl InstanceLogObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn instance_id(&self) -> Uuid {
        self.0.instance_id
    }
    async fn level(&self) -> Result<LogLevel> {
        Ok(LogLevel::from_stored(&self.0.level)?)
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
        level: Option<LogLevel>,
        min_level: Option<LogLevel>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<InstanceLog>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let filter = LogFilter {
            level,
            min_level,
            from,
            to,
        };
        let rows = listing::page(actor, instance_id, &filter, &page).await?;
        let count = listing::count(actor, instance_id, &filter);
        connection::<InstanceLog>(ctx, rows, |_, (l, _)| id_cursor(l.id), count).await
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
        entries: Vec<LogEntry>,
    ) -> Result<usize> {
        Ok(logs::append(ctx.actor()?, entries).await?)
    }
}
