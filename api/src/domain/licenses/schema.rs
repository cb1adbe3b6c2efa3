use super::keyset;
use super::lifecycle::{self, StateChange};
use super::listing;
use super::loaders::LicenseById;
use super::model::{LicenseFilter, LicenseOrder, LicenseState, LicenseTerm, PaymentState};
use super::service::{self, CustomerFields, LicenseChanges, LicenseFields, NewLicense};
use super::shaped;
use crate::auth::{Audience, Role};
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::User;
use crate::domain::audit::loaders::AuditEventsByEntity;
use crate::domain::audit::schema::AuditEvent;
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::schema::RuntimeNode;
use crate::domain::plans::loaders::PlanById;
use crate::domain::plans::schema::Plan;
use crate::domain::seats::loaders::HeldAssignmentsByLicense;
use crate::domain::seats::schema::Assignment;
use crate::error::{AppError, AppResult};
use crate::events::overrun::{OnLag, Overrun};
use crate::events::{DomainEvent, resume};
use crate::graphql::connection::{PagedConnection, connection_ahead};
use crate::graphql::context::{ContextExt, related, related_one_from, related_owned};
use crate::graphql::guard::{Guarded, Seen, shown, shown_or_not_found};
use crate::graphql::plain::{Plain, plain_fields};
use crate::graphql::shaped::{Ahead, Rows, ShapedEdge};
use crate::graphql::siblings::Together;
use crate::paging;
use async_graphql::{Context, Object, Result, Subscription};
use async_graphql::{InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use entity::licenses;
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use uuid::Uuid;

/// A license as the schema shows it (its plain fields answered in place).
pub type License = Plain<LicenseObject>;

/// With the licenses listed beside it, which load their relations together.
pub struct LicenseObject(licenses::Model, Together);

impl Guarded for License {
    type Row = licenses::Model;

    fn audience(row: &licenses::Model) -> Audience {
        Audience::License {
            id: row.id,
            developer: row.developer_id,
        }
    }

    fn wrap(row: licenses::Model, seen: Seen) -> Self {
        Plain(LicenseObject(row, seen.together()))
    }

    fn sibling_key(row: &licenses::Model) -> Option<Uuid> {
        Some(row.id)
    }
}

fn utc(t: &sea_orm::prelude::DateTimeWithTimeZone) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

plain_fields!(LicenseObject {
    "id" => value(id),
    "keyPrefix" => value(key_prefix),
    "product" => value(product),
    "term" => fallible(term),
    "state" => fallible(state),
    "paymentState" => fallible(payment_state),
    "seatsTotal" => value(seats_total),
    "seatsUsed" => value(seats_used),
    "startsAt" => value(starts_at),
    "expiresAt" => value(expires_at),
    "trialEndsAt" => value(trial_ends_at),
    "graceEndsAt" => value(grace_ends_at),
    "createdAt" => value(created_at),
    "updatedAt" => value(updated_at),
    "notes" => value(notes),
    "dba" => value(dba),
    "zip" => value(zip),
    "agents" => value(agents),
    "smsCreditsPurchased" => value(sms_credits_purchased),
    "smsCreditsSent" => value(sms_credits_sent),
    "smsCreditsBalance" => value(sms_credits_balance),
    "seatsAvailable" => value(seats_available),
    "utilizationPercent" => value(utilization_percent),
} shaped(shaped_relation));

impl LicenseObject {
    /// Its lists, as PostgreSQL may shape them (`graphql::shaped`).
    fn shaped_relation(&self, name: &str) -> Option<ShapedEdge<'_>> {
        let relation = shaped::LICENSE.relations.iter().find(|r| r.name == name)?;
        matches!(relation.rows, Rows::Many { .. }).then_some(ShapedEdge {
            relation,
            key: self.0.id,
            owner: Some(self.0.developer_id),
            together: &self.1,
        })
    }
}

#[Object(name = "License")]
impl LicenseObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The first group of the key, for recognising it; the key itself is never shown again.
    async fn key_prefix(&self) -> &str {
        &self.0.key_prefix
    }
    async fn product(&self) -> &str {
        &self.0.product
    }
    async fn term(&self) -> Result<Option<LicenseTerm>> {
        Ok(Some(LicenseTerm::from_stored(&self.0.term)?))
    }
    async fn state(&self) -> Result<Option<LicenseState>> {
        Ok(Some(LicenseState::from_stored(&self.0.state)?))
    }
    async fn payment_state(&self) -> Result<Option<PaymentState>> {
        Ok(Some(PaymentState::from_stored(&self.0.payment_state)?))
    }
    async fn seats_total(&self) -> i32 {
        self.0.seats_total
    }
    async fn seats_used(&self) -> i32 {
        self.0.seats_used
    }
    async fn starts_at(&self) -> DateTime<Utc> {
        utc(&self.0.starts_at)
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.as_ref().map(utc)
    }
    async fn trial_ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.trial_ends_at.as_ref().map(utc)
    }
    async fn grace_ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.grace_ends_at.as_ref().map(utc)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        utc(&self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        utc(&self.0.updated_at)
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// The customer's trading name.
    async fn dba(&self) -> Option<&str> {
        self.0.dba.as_deref()
    }
    async fn zip(&self) -> Option<&str> {
        self.0.zip.as_deref()
    }
    async fn agents(&self) -> Option<i32> {
        self.0.agents
    }
    async fn sms_credits_purchased(&self) -> i64 {
        self.0.sms_credits_purchased
    }
    async fn sms_credits_sent(&self) -> i64 {
        self.0.sms_credits_sent
    }
    async fn sms_credits_balance(&self) -> i64 {
        self.0.sms_credits_purchased - self.0.sms_credits_sent
    }
    async fn seats_available(&self) -> i32 {
        self.0.seats_total - self.0.seats_used
    }
    /// Seats used as a percentage of seats total.
    async fn utilization_percent(&self) -> f64 {
        if self.0.seats_total <= 0 {
            return 0.0;
        }
        f64::from(self.0.seats_used) * 100.0 / f64::from(self.0.seats_total)
    }
    /// Whole days until expiry; negative once expired, null when it never expires.
    async fn days_until_expiry(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let now = ctx.actor()?.now;
        Ok(self
            .0
            .expires_at
            .as_ref()
            .map(|t| (utc(t) - now).num_days()))
    }
    /// Expires within the configured window (`LICENSE_EXPIRING_DAYS`) and has not yet.
    async fn expiring(&self, ctx: &Context<'_>) -> Result<bool> {
        let actor = ctx.actor()?;
        let window = chrono::Duration::days(actor.app.config.licensing.expiring_days);
        let now = actor.now;
        Ok(self
            .0
            .expires_at
            .as_ref()
            .map(utc)
            .is_some_and(|t| t > now && t <= now + window))
    }
    /// Registered runtime nodes (alive or not yet deactivated), oldest first.
    async fn runtime_nodes(&self, ctx: &Context<'_>) -> Result<Vec<RuntimeNode>> {
        related_owned::<ActiveNodesByLicense, RuntimeNode, _>(
            ctx,
            &self.1,
            self.0.id,
            self.0.developer_id,
        )
        .await
    }
    /// What happened to this license, newest first.
    async fn audit_events(&self, ctx: &Context<'_>) -> Result<Vec<AuditEvent>> {
        related::<AuditEventsByEntity, AuditEvent>(ctx, &self.1, self.0.id).await
    }
    /// Seats given: held by members, or waiting on an invitation (`PENDING`), oldest first.
    async fn assignments(&self, ctx: &Context<'_>) -> Result<Vec<Assignment>> {
        related_owned::<HeldAssignmentsByLicense, Assignment, _>(
            ctx,
            &self.1,
            self.0.id,
            self.0.developer_id,
        )
        .await
    }
    async fn plan(&self, ctx: &Context<'_>) -> Result<Option<Plan>> {
        related_one_from::<PlanById, Plan>(ctx, &self.1, self.0.plan_id).await
    }
    async fn developer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        related_one_from::<UserById, User>(ctx, &self.1, self.0.developer_id).await
    }
}

/// A committed change to a license.
pub struct LicenseEvent(Arc<DomainEvent>);

impl Guarded for LicenseEvent {
    type Row = Arc<DomainEvent>;

    fn audience(event: &Arc<DomainEvent>) -> Audience {
        match event.developer_id {
            Some(developer) => Audience::License {
                id: event.entity_id,
                developer,
            },
            None => Audience::OwnedBy(None),
        }
    }

    fn wrap(event: Arc<DomainEvent>, _: Seen) -> Self {
        Self(event)
    }
}

#[Object]
impl LicenseEvent {
    /// Dotted event type, e.g. `license.created`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn license_id(&self) -> Uuid {
        self.0.entity_id
    }
    async fn developer_id(&self) -> Option<Uuid> {
        self.0.developer_id
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// Where this event is in the log: subscribe with `after: <cursor>` to resume after it.
    async fn cursor(&self) -> String {
        resume::cursor_of(&self.0)
    }
    /// What the change recorded (its new state, say).
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.data.clone())
    }
    /// The license as it is now (it may have changed again since the event).
    async fn license(&self, ctx: &Context<'_>) -> Result<Option<License>> {
        // Events are answered one at a time: nothing would share its load.
        let alone = Together::alone();
        related_one_from::<LicenseById, License>(ctx, &alone, self.0.entity_id).await
    }
}

#[derive(Default)]
pub struct LicensesQuery;

#[Object]
impl LicensesQuery {
    /// Licenses, filtered and sorted. Admins see all; developers their own.
    async fn licenses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LicenseFilter>,
        order_by: Option<LicenseOrder>,
    ) -> Result<PagedConnection<License>> {
        let actor = ctx.actor()?;
        let limit = paging::limit(first, actor.app.config.limits.max_page_size)?;
        let filter = filter.unwrap_or_default();
        let order = order_by.unwrap_or_default();
        let after = after
            .map(|cursor| keyset::After::decode(order.field, &cursor))
            .transpose()?;
        let ahead = Ahead::of(ctx, &shaped::LICENSE, "licenses");
        let also = ahead.as_ref().map(Ahead::columns).unwrap_or_default();
        let listed = listing::page(actor, &filter, &order, limit, after.as_ref(), &also).await?;
        let count = listing::count(actor, &filter);
        let ranks = listed.ranks;
        let cursor = |_, row: &licenses::Model| {
            keyset::After::of(order.field, row, ranks.get(&row.id).copied()).encode()
        };
        connection_ahead::<License>(ctx, listed.page, cursor, count, ahead).await
    }

    /// One license: admins see any, developers their own.
    async fn license(&self, ctx: &Context<'_>, id: Uuid) -> Result<License> {
        let actor = ctx.actor()?;
        let found = lifecycle::visible(actor, id).await?;
        Ok(shown_or_not_found(actor, found, "license")?)
    }
}

#[derive(Default)]
pub struct LicensesMutation;

impl LicensesMutation {
    async fn move_to(
        ctx: &Context<'_>,
        id: Uuid,
        state: LicenseState,
        payment_state: Option<PaymentState>,
    ) -> Result<License> {
        let change = StateChange {
            to: state,
            payment: payment_state,
        };
        let actor = ctx.actor()?;
        let changed = lifecycle::change_state(actor, id, change).await?;
        Ok(shown_or_not_found(actor, changed, "license")?)
    }
}

#[derive(InputObject)]
pub struct CustomerInput {
    dba: Option<String>,
    zip: Option<String>,
    agents: Option<i32>,
    sms_credits_purchased: Option<i64>,
    sms_credits_sent: Option<i64>,
}

impl From<Option<CustomerInput>> for CustomerFields {
    fn from(c: Option<CustomerInput>) -> Self {
        c.map(|c| Self {
            dba: c.dba,
            zip: c.zip,
            agents: c.agents,
            sms_credits_purchased: c.sms_credits_purchased,
            sms_credits_sent: c.sms_credits_sent,
        })
        .unwrap_or_default()
    }
}

/// The terms and details both license inputs carry, as the service takes them.
macro_rules! license_fields {
    ($input:expr) => {
        LicenseFields {
            product: $input.product,
            term: $input.term,
            seats_total: $input.seats_total,
            expires_at: $input.expires_at,
            notes: $input.notes,
            customer: $input.customer.into(),
        }
    };
}

#[derive(InputObject)]
pub struct CreateLicenseInput {
    /// Required for admins; developers always create for themselves.
    developer_id: Option<Uuid>,
    plan_code: String,
    product: Option<String>,
    term: Option<LicenseTerm>,
    /// Defaults to the plan's seat limit.
    seats_total: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
    notes: Option<String>,
    customer: Option<CustomerInput>,
}

#[derive(InputObject)]
pub struct UpdateLicenseInput {
    product: Option<String>,
    plan_code: Option<String>,
    term: Option<LicenseTerm>,
    /// Never below the seats in use (VALIDATION).
    seats_total: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
    notes: Option<String>,
    customer: Option<CustomerInput>,
}

/// A license with its key in plaintext: the only time the key is shown.
#[derive(SimpleObject)]
pub struct LicenseKeyPayload {
    license: License,
    license_key: String,
}

#[Object]
impl LicensesMutation {
    /// Issues a license. Admins for any developer; a developer for itself on a plan it holds.
    async fn create_license(
        &self,
        ctx: &Context<'_>,
        input: CreateLicenseInput,
    ) -> Result<LicenseKeyPayload> {
        let new = NewLicense {
            developer_id: input.developer_id,
            plan_code: input.plan_code,
            fields: license_fields!(input),
        };
        let actor = ctx.actor()?;
        let (license, key) = service::create(actor, new).await?;
        Ok(LicenseKeyPayload {
            license: shown_or_not_found(actor, license, "license")?,
            license_key: key.plaintext,
        })
    }

    /// Edits a license: admins anything, owners their notes and customer details.
    async fn update_license(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: UpdateLicenseInput,
    ) -> Result<License> {
        let changes = LicenseChanges {
            plan_code: input.plan_code,
            fields: license_fields!(input),
        };
        let actor = ctx.actor()?;
        let updated = service::update(actor, id, changes).await?;
        Ok(shown_or_not_found(actor, updated, "license")?)
    }

    /// Issues a new key; the old one stops working at once.
    async fn regenerate_license_key(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> Result<LicenseKeyPayload> {
        let actor = ctx.actor()?;
        let (license, key) = service::regenerate_key(actor, id).await?;
        Ok(LicenseKeyPayload {
            license: shown_or_not_found(actor, license, "license")?,
            license_key: key.plaintext,
        })
    }

    /// Moves a license to a state (and optionally a payment state) the transition table
    /// allows; anything else is INVALID_TRANSITION. Admins only.
    async fn change_license_state(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        state: LicenseState,
        payment_state: Option<PaymentState>,
    ) -> Result<License> {
        Self::move_to(ctx, id, state, payment_state).await
    }

    /// Stops a license working until it is reinstated. Admins only.
    async fn suspend_license(&self, ctx: &Context<'_>, id: Uuid) -> Result<License> {
        Self::move_to(ctx, id, LicenseState::Suspended, None).await
    }

    /// Makes a suspended (or cancelled, or expired) license active again. Admins only.
    async fn reinstate_license(&self, ctx: &Context<'_>, id: Uuid) -> Result<License> {
        Self::move_to(ctx, id, LicenseState::Active, None).await
    }

    /// Ends a license for good: revoked is terminal. Admins only.
    async fn revoke_license(&self, ctx: &Context<'_>, id: Uuid) -> Result<License> {
        Self::move_to(ctx, id, LicenseState::Revoked, None).await
    }

    /// Extends expiry by one term (from expiry, or from now if already expired), active and
    /// paid. Admins only.
    async fn renew_license(&self, ctx: &Context<'_>, id: Uuid) -> Result<License> {
        let actor = ctx.actor()?;
        let renewed = lifecycle::renew(actor, id).await?;
        Ok(shown_or_not_found(actor, renewed, "license")?)
    }
}

#[derive(Default)]
pub struct LicensesSubscription;

#[Subscription]
impl LicensesSubscription {
    /// Committed license changes, from every gateway process, in order: all of them for
    /// admins, a developer's own for a developer. With `after` (an event's `cursor`), the events
    /// since it are replayed first, then the live ones follow with no gap and no duplicate; a
    /// cursor past the log's retention is refused (CONFLICT, reason CURSOR_EXPIRED: reload).
    /// `licenseId` and `types` (e.g. `license.state_changed`) narrow what is sent.
    async fn license_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        license_id: Option<Uuid>,
        types: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = LicenseEvent>> {
        let actor = ctx.actor()?.clone();
        let (me, role) = actor.require_user()?;
        let after = resume::cursor(after.as_deref())?;
        let types = event_types(types)?;
        let owner = (role == Role::Developer).then_some(me);
        let viewer = actor.clone();
        let overrun = OnLag::Close(ctx.data_opt::<Overrun>().cloned());
        let events = resume::events(&actor, after, owner, overrun, move |event| {
            event.kind.starts_with("license.")
                && license_id.is_none_or(|id| event.entity_id == id)
                && types
                    .as_ref()
                    .is_none_or(|types| types.contains(&event.kind))
        })
        .await?;
        Ok(events
            .filter_map(move |event| std::future::ready(shown::<LicenseEvent>(&viewer, event))))
    }
}

/// A subscription's `types` filter, checked: at most 20 dotted names.
fn event_types(types: Option<Vec<String>>) -> AppResult<Option<Vec<String>>> {
    let Some(types) = types else {
        return Ok(None);
    };
    let plain = |t: &String| {
        !t.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_'))
    };
    if types.len() > 20 || !types.iter().all(plain) {
        return Err(AppError::validation(
            "types",
            "at most 20 event types such as `license.state_changed`",
        ));
    }
    Ok(Some(types))
}
