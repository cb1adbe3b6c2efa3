use super::model::AssignmentStatus;
use super::service::{self, Release};
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::User;
use crate::domain::licenses::loaders::LicenseById;
use crate::domain::licenses::schema::License;
use crate::graphql::context::ContextExt;
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::license_assignments;
use uuid::Uuid;

/// A seat on a license held by a user.
pub struct Assignment(pub license_assignments::Model);

#[Object]
impl Assignment {
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
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        Ok(ctx
            .loader::<UserById>()?
            .load_one(self.0.user_id)
            .await?
            .map(User))
    }
    async fn license(&self, ctx: &Context<'_>) -> Result<Option<License>> {
        let found = ctx
            .loader::<LicenseById>()?
            .load_one(self.0.license_id)
            .await?;
        Ok(found.map(License))
    }
}

#[derive(Default)]
pub struct SeatsMutation;

#[Object]
impl SeatsMutation {
    /// Gives a user (created as a team member if new) a seat. A full license answers CONFLICT
    /// with `extensions.reason` SEAT_LIMIT_REACHED. Admins, or the license's developer.
    async fn assign_seat(
        &self,
        ctx: &Context<'_>,
        license_id: Uuid,
        user_email: String,
    ) -> Result<Assignment> {
        let assignment = service::assign(ctx.actor()?, license_id, &user_email).await?;
        Ok(Assignment(assignment))
    }

    /// Frees the seat a user holds on a license.
    async fn unassign_seat(
        &self,
        ctx: &Context<'_>,
        license_id: Uuid,
        user_email: String,
    ) -> Result<Assignment> {
        let actor = ctx.actor()?;
        let id = service::active_assignment_id(actor, license_id, &user_email).await?;
        let released = service::release(actor, id, Release::Unassign).await?;
        Ok(Assignment(released))
    }

    /// Takes a seat away by assignment id; it is recorded as revoked, not merely unassigned.
    async fn revoke_seat(&self, ctx: &Context<'_>, assignment_id: Uuid) -> Result<Assignment> {
        let released = service::release(ctx.actor()?, assignment_id, Release::Revoke).await?;
        Ok(Assignment(released))
    }
}
