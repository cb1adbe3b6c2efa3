use super::model::AuditFilter;
use super::service;
use crate::auth::{ActorType, Audience};
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen};
use crate::graphql::plain::{Plain, plain_fields};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::audit_events;
use uuid::Uuid;

/// An audit event as the schema shows it (its plain fields answered in place).
pub type AuditEvent = Plain<AuditEventObject>;

/// One recorded change: what, to which entity, by whom, from where.
pub struct AuditEventObject(audit_events::Model);

impl Guarded for AuditEvent {
    type Row = audit_events::Model;

    fn audience(row: &audit_events::Model) -> Audience {
        Audience::OwnedBy(row.owner_id)
    }

    fn wrap(row: audit_events::Model, _: Seen) -> Self {
        Plain(AuditEventObject(row))
    }
}

impl AuditEventObject {
    /// Where an action came from (actor id, IP, user agent) is operator data: admins see it on
    /// every event; anyone else only on their own actions and those of their license keys and
    /// instances, never an admin's or the platform's.
    fn shows_origin(&self, ctx: &Context<'_>) -> bool {
        let Ok(actor) = ctx.actor() else {
            return false;
        };
        if actor.is_admin() {
            return true;
        }
        match ActorType::parse(&self.0.actor_type) {
            Some(ActorType::License | ActorType::Instance) => true,
            Some(ActorType::User) => actor.caller.audit_actor().1 == self.0.actor_id,
            _ => false,
        }
    }
}

plain_fields!(AuditEventObject {
    "id" => value(id),
    "type" => value(kind),
    "actorType" => value(actor_type),
    "entityType" => value(entity_type),
    "entityId" => value(entity_id),
    "metadata" => value(metadata),
    "createdAt" => value(created_at),
});

#[Object(name = "AuditEvent")]
impl AuditEventObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Dotted type, e.g. `license.state_changed`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.event_type
    }
    /// `user`, `license` (a runtime node holding the key), `system` or `partner`.
    async fn actor_type(&self) -> &str {
        &self.0.actor_type
    }
    // Who acted: for non-admins only on their own actions and their credentials' (no doc
    // comment: the schema's description stays as it was).
    async fn actor_id(&self, ctx: &Context<'_>) -> Result<Option<Uuid>> {
        Ok(self.0.actor_id.filter(|_| self.shows_origin(ctx)))
    }
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }
    async fn entity_id(&self) -> Option<Uuid> {
        self.0.entity_id
    }
    /// The change itself: before and after values, never secrets.
    async fn metadata(&self) -> Json<&serde_json::Value> {
        Json(&self.0.metadata)
    }
    async fn ip(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0.ip.as_deref().filter(|_| self.shows_origin(ctx))
    }
    async fn user_agent(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0
            .user_agent
            .as_deref()
            .filter(|_| self.shows_origin(ctx))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, newest first. Admins see all; developers the events on what they own.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilter>,
    ) -> Result<PagedConnection<AuditEvent>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let filter = filter.unwrap_or_default();
        let rows = service::page(actor, &filter, &page).await?;
        let count = service::count(actor, &filter);
        connection::<AuditEvent>(ctx, rows, |_, e| id_cursor(e.id), count).await
    }
}
