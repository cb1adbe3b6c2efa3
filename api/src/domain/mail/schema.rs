use super::model::{MailKind, MailStatus, shown_body};
use super::service;
use crate::auth::Audience;
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::mail_outbox;
use uuid::Uuid;

/// A mail in the outbox (admins only).
pub struct Mail(mail_outbox::Model);

impl Guarded for Mail {
    type Row = mail_outbox::Model;

    /// Operator data: who is mailed what.
    fn audience(_: &mail_outbox::Model) -> Audience {
        Audience::Admins
    }

    /// The object never holds the link's token, so no field can show it.
    fn wrap(mut row: mail_outbox::Model, _: Seen) -> Self {
        row.link_token = None;
        Self(row)
    }
}

/// A mail the gateway sends or sent. Its one-time link is shown with the token `[hidden]`.
#[Object]
impl Mail {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn kind(&self) -> Result<MailKind> {
        Ok(MailKind::from_stored(&self.0.kind)?)
    }
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The text as sent, its one-time link ending in `?token=[hidden]`.
    async fn body(&self) -> String {
        shown_body(&self.0)
    }
    async fn status(&self) -> Result<MailStatus> {
        Ok(MailStatus::from_stored(&self.0.status)?)
    }
    /// Delivery attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due, while the mail is pending.
    async fn next_attempt_at(&self) -> Result<Option<DateTime<Utc>>> {
        let pending = MailStatus::from_stored(&self.0.status)? == MailStatus::Pending;
        Ok(pending.then(|| self.0.next_attempt_at.with_timezone(&Utc)))
    }
    /// Why the last attempt failed: the mail server's answer or the connection's failure.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    /// When the mail server took it, or when it was logged.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at.map(|at| at.with_timezone(&Utc))
    }
}

#[derive(Default)]
pub struct MailQuery;

#[Object]
impl MailQuery {
    /// Mail the gateway sends, newest first, optionally of one status. Admins only.
    async fn mail_outbox(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<MailStatus>,
    ) -> Result<PagedConnection<Mail>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let rows = service::page(actor, status, &page).await?;
        let count = service::count(actor, status);
        connection::<Mail>(ctx, rows, |_, m| id_cursor(m.id), count).await
    }
}
