//! A subscription per domain, each over the event log (`events::resume`): replayed from a
//! cursor, then live, each event shown to the caller only if the audience of its domain's type
//! admits it, the same rule as the corresponding query, checked per event. A subscription
//! socket also closes when the credential it opened with ends.

use crate::auth::{Actor, Audience, Role};
use crate::error::{AppError, AppResult};
use crate::events::overrun::{OnLag, Overrun};
use crate::events::{DomainEvent, resume};
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown};
use async_graphql::{Context, Json, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use uuid::Uuid;

/// An event type of one domain: who sees it, and the fields every event has.
macro_rules! event_type {
    ($(#[$doc:meta])* $name:ident, $audience:expr) => {
        $(#[$doc])*
        pub struct $name(Arc<DomainEvent>);

        impl Guarded for $name {
            type Row = Arc<DomainEvent>;

            fn audience(event: &Arc<DomainEvent>) -> Audience {
                let audience: fn(&DomainEvent) -> Audience = $audience;
                audience(event)
            }

            fn wrap(event: Arc<DomainEvent>, _: Seen) -> Self {
                Self(event)
            }
        }

        #[Object]
        impl $name {
            /// Where this event is in the log: subscribe with `after: <cursor>` to resume.
            async fn cursor(&self) -> String {
                resume::cursor_of(&self.0)
            }
            /// Dotted event type, e.g. `instance.running`.
            #[graphql(name = "type")]
            async fn kind(&self) -> &str {
                &self.0.kind
            }
            /// What the event is about (a license, an instance, a developer, a pool).
            async fn entity_id(&self) -> Uuid {
                self.0.entity_id
            }
            async fn developer_id(&self) -> Option<Uuid> {
                self.0.developer_id
            }
            async fn occurred_at(&self) -> DateTime<Utc> {
                self.0.occurred_at
            }
            async fn data(&self) -> Json<serde_json::Value> {
                Json(self.0.data.clone())
            }
        }
    };
}

fn admins(_: &DomainEvent) -> Audience {
    Audience::Admins
}

fn developer(event: &DomainEvent) -> Audience {
    Audience::OwnedBy(event.developer_id)
}

fn license(event: &DomainEvent) -> Audience {
    match event.developer_id {
        Some(developer) => Audience::License {
            id: event.entity_id,
            developer,
        },
        None => Audience::Admins,
    }
}

fn runtime(event: &DomainEvent) -> Audience {
    match event.developer_id {
        Some(developer) => Audience::Runtime {
            license: event.entity_id,
            developer,
        },
        None => Audience::Admins,
    }
}

fn instance(event: &DomainEvent) -> Audience {
    match event.developer_id {
        Some(developer) => Audience::Instance {
            id: event.entity_id,
            developer,
        },
        None => Audience::Admins,
    }
}

event_type!(
    /// A developer's account changed: signed up, verified its address, changed plan. Admins.
    DeveloperEvent,
    admins
);
event_type!(
    /// A seat given, released or revoked on a license: its developer, its seat holders.
    AssignmentEvent,
    license
);
event_type!(
    /// A runtime node activated, dead, back, culled or deactivated: as the license's nodes.
    RuntimeNodeEvent,
    runtime
);
event_type!(
    /// An instance created, placed, waiting, provisioning, running, suspended, failed or
    /// deleted: its developer, and the instance's own tokens.
    InstanceEvent,
    instance
);
event_type!(
    /// A usage threshold crossed (80%, 100% of a quota): its developer.
    UsageEvent,
    developer
);
event_type!(
    /// A pool's capacity exhausted or past its threshold: admins.
    PoolEvent,
    admins
);

/// The replay's narrowing for the caller: a developer reads only its own rows.
fn owner_of(actor: &Actor) -> Option<Uuid> {
    match actor.caller.require_user() {
        Ok((me, Role::Developer)) => Some(me),
        _ => None,
    }
}

/// The events of these kinds (exact, or a prefix ending in `.` or `_`), about `entity` if given, that
/// the caller may see as a `T`.
async fn stream<T>(
    ctx: &Context<'_>,
    after: Option<String>,
    kinds: &'static [&'static str],
    entity: Option<Uuid>,
) -> AppResult<impl Stream<Item = T> + use<T>>
where
    T: Guarded<Row = Arc<DomainEvent>> + Send + 'static,
{
    let actor = ctx.actor()?.clone();
    let after = resume::cursor(after.as_deref())?;
    let overrun = OnLag::Close(ctx.data_opt::<Overrun>().cloned());
    let events = resume::events(&actor, after, owner_of(&actor), overrun, move |event| {
        kinds.iter().any(|kind| {
            event.kind == *kind || (kind.ends_with(['.', '_']) && event.kind.starts_with(kind))
        }) && entity.is_none_or(|id| event.entity_id == id)
    })
    .await?;
    Ok(events.filter_map(move |event| std::future::ready(shown::<T>(&actor, event))))
}

fn require_admin(ctx: &Context<'_>) -> AppResult<()> {
    ctx.actor()
        .map_err(|_| AppError::Unauthenticated("sign in first"))?
        .require_admin()
        .map(drop)
}

#[derive(Default)]
pub struct DomainSubscription;

#[Subscription]
impl DomainSubscription {
    /// Signups, verified addresses and plan changes, from every gateway. Admins only.
    async fn developer_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = DeveloperEvent>> {
        require_admin(ctx)?;
        const KINDS: &[&str] = &["developer.", "user.email_verified", "license.plan_changed"];
        Ok(stream(ctx, after, KINDS, None).await?)
    }

    /// Seats given, released or revoked, per license if `licenseId` is given: a developer its
    /// own licenses', a member those it holds a seat on, admins all.
    async fn assignment_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        license_id: Option<Uuid>,
    ) -> Result<impl Stream<Item = AssignmentEvent>> {
        ctx.actor()?.require_user()?;
        const KINDS: &[&str] = &["license.seat_"];
        Ok(stream(ctx, after, KINDS, license_id).await?)
    }

    /// Runtime nodes activated, dead (their heartbeat deadline passed), resurrected (back
    /// within the resurrection window), checked in late (after it: deactivated), culled or
    /// deactivated, per license if `licenseId` is given.
    async fn runtime_node_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        license_id: Option<Uuid>,
    ) -> Result<impl Stream<Item = RuntimeNodeEvent>> {
        const KINDS: &[&str] = &["license.node_"];
        Ok(stream(ctx, after, KINDS, license_id).await?)
    }

    /// Instances created, placed, waiting, provisioning, running, suspended, failed or deleted,
    /// one instance's if `instanceId` is given.
    async fn instance_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        instance_id: Option<Uuid>,
    ) -> Result<impl Stream<Item = InstanceEvent>> {
        const KINDS: &[&str] = &["instance."];
        Ok(stream(ctx, after, KINDS, instance_id).await?)
    }

    /// Usage thresholds crossed (80% and 100% of a quota) and batches refused at a hard quota
    /// (at most once a minute per developer and metric): a developer its own, admins all.
    async fn usage_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = UsageEvent>> {
        ctx.actor()?.require_user()?;
        const KINDS: &[&str] = &["usage.threshold_crossed", "usage.quota_exceeded"];
        Ok(stream(ctx, after, KINDS, None).await?)
    }

    /// Pools whose capacity is exhausted or past their alert threshold. Admins only.
    async fn pool_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = PoolEvent>> {
        require_admin(ctx)?;
        const KINDS: &[&str] = &["pool."];
        Ok(stream(ctx, after, KINDS, None).await?)
    }
}
