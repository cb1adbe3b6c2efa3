//! Seats: who may use a license. `seats_used` is exact at all times and never passes
//! `seats_total`: a seat is taken by a conditional UPDATE that only succeeds while one is free,
//! in the same transaction as the assignment, and the CHECK constraint backs it up.

use super::model::AssignmentStatus;
use crate::auth::{Actor, Role};
use crate::domain::accounts::input;
use crate::domain::licenses::changes::event;
use crate::domain::licenses::model::LicenseState;
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, UnitOfWork};

use crate::domain::members::invitations::{self, Resend};
use entity::{invitations as invitation_rows, license_assignments, licenses, prelude::*, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Set,
};
use serde_json::json;
use uuid::Uuid;

const ACTIVE: &str = AssignmentStatus::Active.as_str();
const PENDING: &str = AssignmentStatus::Pending.as_str();
/// The statuses that hold a seat.
const HELD: [&str; 2] = [ACTIVE, PENDING];

/// A seat, with the developer whose license it is on (who may see it follows from that).
pub type Seat = (license_assignments::Model, Uuid);

/// The license, if the caller may manage its seats: admins any, developers their own.
async fn managed_license(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    license_id: Uuid,
) -> AppResult<licenses::Model> {
    actor.require_user()?;
    let license = Licenses::find_by_id(license_id)
        .one(conn)
        .await?
        .filter(|l| actor.manages(l.developer_id))
        .ok_or(AppError::NotFound("license"))?;
    Ok(license)
}

/// Who a seat for `email` goes to on `developer`'s license: the developer itself or one of its
/// members, by account; anyone else, by invitation (the seat waits until it is accepted).
/// Which of the two it is tells the caller nothing about accounts outside its team.
enum Holder {
    Account(users::Model),
    Invited(invitation_rows::Model),
}

async fn holder(uow: &mut UnitOfWork<'_>, developer: Uuid, email: &str) -> AppResult<Holder> {
    let account = Users::find()
        .filter(users::Column::Email.eq(email))
        .one(&**uow)
        .await?;
    let on_team = |user: &users::Model| {
        user.id == developer
            || (Role::parse(&user.role) == Some(Role::Member)
                && user.developer_id == Some(developer))
    };
    match account {
        Some(user) if on_team(&user) => Ok(Holder::Account(user)),
        _ => {
            let owner = Users::find_by_id(developer)
                .one(&**uow)
                .await?
                .ok_or(AppError::NotFound("license"))?;
            let invitation = invitations::open(uow, &owner, email, Resend::No).await?;
            Ok(Holder::Invited(invitation))
        }
    }
}

fn seat_limit_reached(license: &licenses::Model) -> AppError {
    AppError::conflict(
        ConflictReason::SeatLimitReached,
        format!(
            "all {} seats of this license are taken",
            license.seats_total
        ),
    )
}

/// A seat change, audited on the license and published to its subscribers.
fn seat_change(
    kind: &str,
    published: &str,
    license: &licenses::Model,
    metadata: serde_json::Value,
) -> Change {
    Change::new(kind, "license", license.id)
        .owner(license.developer_id)
        .metadata(metadata)
        .publish(event(published, license))
}

/// Gives `email` a seat on the license: at once to the developer or one of its members, and to
/// anyone else as a pending seat on an invitation (mailed once per invitation).
#[tracing::instrument(skip(actor))]
pub async fn assign(actor: &Actor, license_id: Uuid, email: &str) -> AppResult<Seat> {
    let now = actor.now;
    let email = input::email(email)
        .map_err(|_| AppError::validation("userEmail", "not a valid email address"))?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let license = managed_license(&*uow, actor, license_id).await?;
    let usable = matches!(
        LicenseState::from_stored(&license.state)?,
        LicenseState::Trialing | LicenseState::Active | LicenseState::Grace
    );
    if !usable {
        return Err(AppError::conflict(
            ConflictReason::LicenseNotUsable,
            format!("seats cannot be assigned on a {} license", license.state),
        ));
    }
    // A full license is answered as such before anyone is invited; the conditional take below
    // is what holds under concurrency.
    if license.seats_used >= license.seats_total {
        return Err(seat_limit_reached(&license));
    }
    let holder = holder(&mut uow, license.developer_id, &email).await?;
    let (user_id, invitation_id, status) = match &holder {
        Holder::Account(user) => (Some(user.id), None, ACTIVE),
        Holder::Invited(invitation) => (None, Some(invitation.id), PENDING),
    };
    let held = match &holder {
        Holder::Account(user) => license_assignments::Column::UserId.eq(user.id),
        Holder::Invited(invitation) => license_assignments::Column::InvitationId.eq(invitation.id),
    };
    let already = LicenseAssignments::find()
        .filter(license_assignments::Column::LicenseId.eq(license_id))
        .filter(held)
        .filter(license_assignments::Column::Status.is_in(HELD))
        .one(&*uow)
        .await?;
    if already.is_some() {
        return Err(ConflictReason::AlreadyAssigned.into());
    }

    // Take a seat only while one is free; the database decides, not a count read earlier.
    let taken = Licenses::update_many()
        .col_expr(
            licenses::Column::SeatsUsed,
            Expr::col(licenses::Column::SeatsUsed).add(1),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .filter(licenses::Column::Id.eq(license_id))
        .filter(Expr::col(licenses::Column::SeatsUsed).lt(Expr::col(licenses::Column::SeatsTotal)))
        .exec(&*uow)
        .await?;
    if taken.rows_affected == 0 {
        return Err(seat_limit_reached(&license));
    }
    let assignment = license_assignments::ActiveModel {
        id: Set(Uuid::now_v7()),
        license_id: Set(license_id),
        user_id: Set(user_id),
        invitation_id: Set(invitation_id),
        status: Set(status.to_owned()),
        assigned_at: Set(now.into()),
        released_at: Set(None),
        assigned_by: Set(actor.caller.audit_actor().1),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    let metadata = json!({
        "assignmentId": assignment.id,
        "userId": user_id,
        "invitationId": invitation_id,
        "email": email,
    });
    uow.record(seat_change(
        "seat.assigned",
        "license.seat_assigned",
        &license,
        metadata,
    ))
    .await?;
    uow.commit().await?;
    Ok((assignment, license.developer_id))
}

/// How a seat is given back.
#[derive(Clone, Copy, Debug)]
pub enum Release {
    /// The member no longer needs it.
    Unassign,
    /// Taken away, e.g. for misuse.
    Revoke,
}

impl Release {
    fn status(self) -> AssignmentStatus {
        match self {
            Release::Unassign => AssignmentStatus::Unassigned,
            Release::Revoke => AssignmentStatus::Revoked,
        }
    }
}

/// Frees the seat held (or waited for) by an assignment.
#[tracing::instrument(skip(actor))]
pub async fn release(actor: &Actor, assignment_id: Uuid, how: Release) -> AppResult<Seat> {
    let mut uow = UnitOfWork::begin(actor).await?;
    let assignment = LicenseAssignments::find_by_id(assignment_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("assignment"))?;
    let license = managed_license(&*uow, actor, assignment.license_id)
        .await
        .map_err(|_| AppError::NotFound("assignment"))?;
    if !release_within(&mut uow, &assignment, &license, how).await? {
        return Err(ConflictReason::NotAssigned.into());
    }
    uow.commit().await?;
    let released = LicenseAssignments::find_by_id(assignment_id)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("assignment"))?;
    Ok((released, license.developer_id))
}

/// Frees the seat of `assignment` on `license` inside a unit of work, audited and published;
/// false when it held none (released already, perhaps by a concurrent request).
pub(crate) async fn release_within(
    uow: &mut UnitOfWork<'_>,
    assignment: &license_assignments::Model,
    license: &licenses::Model,
    how: Release,
) -> AppResult<bool> {
    let now = uow.actor().now;
    let released = LicenseAssignments::update_many()
        .col_expr(
            license_assignments::Column::Status,
            Expr::value(how.status().as_str()),
        )
        .col_expr(license_assignments::Column::ReleasedAt, Expr::value(now))
        .col_expr(license_assignments::Column::UpdatedAt, Expr::value(now))
        .filter(license_assignments::Column::Id.eq(assignment.id))
        .filter(license_assignments::Column::Status.is_in(HELD))
        .exec(&**uow)
        .await?;
    if released.rows_affected == 0 {
        return Ok(false);
    }
    Licenses::update_many()
        .col_expr(
            licenses::Column::SeatsUsed,
            Expr::col(licenses::Column::SeatsUsed).sub(1),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .filter(licenses::Column::Id.eq(license.id))
        .exec(&**uow)
        .await?;
    let kind = match how {
        Release::Unassign => "seat.unassigned",
        Release::Revoke => "seat.revoked",
    };
    let metadata = json!({
        "assignmentId": assignment.id,
        "userId": assignment.user_id,
        "invitationId": assignment.invitation_id,
    });
    uow.record(seat_change(
        kind,
        "license.seat_released",
        license,
        metadata,
    ))
    .await?;
    Ok(true)
}

/// Frees every seat held by `holder` (a member's, or an invitation's pending ones) inside a
/// unit of work.
pub(crate) async fn release_all_of(
    uow: &mut UnitOfWork<'_>,
    holder: SeatHolder,
    how: Release,
) -> AppResult<usize> {
    let held_by = match holder {
        SeatHolder::Member(id) => license_assignments::Column::UserId.eq(id),
        SeatHolder::Invitation(id) => license_assignments::Column::InvitationId.eq(id),
    };
    let held = LicenseAssignments::find()
        .filter(held_by)
        .filter(license_assignments::Column::Status.is_in(HELD))
        .all(&**uow)
        .await?;
    let mut freed = 0;
    for assignment in &held {
        let license = Licenses::find_by_id(assignment.license_id)
            .one(&**uow)
            .await?
            .ok_or(AppError::NotFound("license"))?;
        if release_within(uow, assignment, &license, how).await? {
            freed += 1;
        }
    }
    Ok(freed)
}

/// Whose seats `release_all_of` frees.
#[derive(Clone, Copy, Debug)]
pub enum SeatHolder {
    Member(Uuid),
    Invitation(Uuid),
}

/// The seat `email` holds (or waits for) on a license, for releasing by email.
pub async fn held_assignment_id(actor: &Actor, license_id: Uuid, email: &str) -> AppResult<Uuid> {
    let db = &actor.app.db;
    let license = managed_license(db, actor, license_id).await?;
    let email = input::email(email)
        .map_err(|_| AppError::validation("userEmail", "not a valid email address"))?;
    let account = Users::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Email.eq(email.as_str()));
    let invitation = Invitations::find()
        .select_only()
        .column(invitation_rows::Column::Id)
        .filter(invitation_rows::Column::DeveloperId.eq(license.developer_id))
        .filter(invitation_rows::Column::Email.eq(email.as_str()));
    LicenseAssignments::find()
        .filter(license_assignments::Column::LicenseId.eq(license_id))
        .filter(license_assignments::Column::Status.is_in(HELD))
        .filter(
            Condition::any()
                .add(license_assignments::Column::UserId.in_subquery(account.into_query()))
                .add(
                    license_assignments::Column::InvitationId.in_subquery(invitation.into_query()),
                ),
        )
        .one(db)
        .await?
        .map(|a| a.id)
        .ok_or(AppError::NotFound("assignment"))
}

/// The licenses a team member holds a seat on: what it may see of them.
pub async fn held_by(db: &impl ConnectionTrait, member: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(LicenseAssignments::find()
        .select_only()
        .column(license_assignments::Column::LicenseId)
        .filter(license_assignments::Column::UserId.eq(member))
        .filter(license_assignments::Column::Status.eq(ACTIVE))
        .into_tuple()
        .all(db)
        .await?)
}
