use super::model::AssignmentStatus;
use super::service::{self, Release, Seat};
use crate::auth::Audience;
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::User;
use crate::domain::licenses::loaders::LicenseById;
use crate::domain::licenses::schema::License;
use crate::domain::members::schema::Invitation;
use crate::graphql::context::{ContextExt, related_one};
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::graphql::plain::{Plain, plain_fields};
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::license_assignments;
use uuid::Uuid;

/// A seat as the schema shows it (its plain fields answered in place).
pub type Assignment = Plain<AssignmentObject>;

/// A seat on a license held by a user.
pub struct AssignmentObject(license_assignments::Model);

impl Guarded for Assignment {
    type Row = Seat;

    fn audience((seat, developer): &Seat) -> Audience {
        Audience::License {
            id: seat.license_id,
            developer: *developer,
        }
    }

    fn wrap((seat, _): Seat, _: Seen) -> Self {
        Plain(AssignmentObject(seat))
    }
}

plain_fields!(AssignmentObject {
    "id" => value(id),
    "status" => fallible(status),
    "assignedAt" => value(assigned_at),
    "releasedAt" => value(released_at),
});

#[Object(name = "Assignment")]
impl AssignmentObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn status(&self) -> Result<AssignmentStatus> {
        Ok(AssignmentStatus::from_stored(&self.0.status)?)
    }
    async fn assigned_at(&self) -> DateTime<Utc> {
        self.0.assigned_at.with_timezone(&Utc)
    }
    async fn released_at(&self) -> Option<DateTime<Utc>> {
        self.0.released_at.map(|t| t.with_timezone(&Utc))
    }
    /// The member holding the seat; none while it waits on an invitation.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.user_id {
            Some(id) => related_one::<UserById, User>(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The invitation the seat was offered with, if it was.
    async fn invitation(&self, ctx: &Context<'_>) -> Result<Option<Invitation>> {
        Invitation::of(ctx, self.0.invitation_id).await
    }
    async fn license(&self, ctx: &Context<'_>) -> Result<Option<License>> {
        related_one::<LicenseById, License>(ctx, self.0.license_id).await
    }
}

#[derive(Default)]
pub struct SeatsMutation;

#[Object]
impl SeatsMutation {
    /// Gives a seat: at once to the developer or one of its members; to any other address as
    /// a PENDING seat on an invitation mailed to it, held until the invitation is accepted or
    /// withdrawn. The answer is the same whether or not the address has an account elsewhere.
    /// A full license answers CONFLICT with `extensions.reason` SEAT_LIMIT_REACHED. Admins, or
    /// the license's developer.
    async fn assign_seat(
        &self,
        ctx: &Context<'_>,
        license_id: Uuid,
        user_email: String,
    ) -> Result<Assignment> {
        let actor = ctx.actor()?;
        let seat = service::assign(actor, license_id, &user_email).await?;
        Ok(shown_or_not_found(actor, seat, "assignment")?)
    }

    /// Frees the seat a user holds on a license.
    async fn unassign_seat(
        &self,
        ctx: &Context<'_>,
        license_id: Uuid,
        user_email: String,
    ) -> Result<Assignment> {
        let actor = ctx.actor()?;
        let id = service::held_assignment_id(actor, license_id, &user_email).await?;
        let released = service::release(actor, id, Release::Unassign).await?;
        Ok(shown_or_not_found(actor, released, "assignment")?)
    }

    /// Takes a seat away by assignment id; it is recorded as revoked, not merely unassigned.
    async fn revoke_seat(&self, ctx: &Context<'_>, assignment_id: Uuid) -> Result<Assignment> {
        let actor = ctx.actor()?;
        let released = service::release(actor, assignment_id, Release::Revoke).await?;
        Ok(shown_or_not_found(actor, released, "assignment")?)
    }
}
