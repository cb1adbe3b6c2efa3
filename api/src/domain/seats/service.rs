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
use chrono::{DateTime, Utc};
use entity::{license_assignments, licenses, prelude::*, users};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

const ACTIVE: &str = AssignmentStatus::Active.as_str();

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

/// The member of `developer`'s team with this email, created if there is no account with it.
/// An account that is not on that team (another developer, another team's member, an admin)
/// is never linked. Safe under races: the insert does nothing when another transaction
/// created the same email first.
async fn member_by_email(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> AppResult<users::Model> {
    let member = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_owned()),
        name: Set(email.split('@').next().unwrap_or(email).to_owned()),
        password_hash: Set(None),
        role: Set(Role::Member.as_str().to_owned()),
        email_verified_at: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        developer_id: Set(Some(developer)),
    };
    Users::insert(member)
        .on_conflict(
            OnConflict::column(users::Column::Email)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    let user = Users::find()
        .filter(users::Column::Email.eq(email))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("member vanished after upsert")))?;
    let on_team =
        Role::parse(&user.role) == Some(Role::Member) && user.developer_id == Some(developer);
    if !on_team {
        return Err(AppError::validation(
            "userEmail",
            "seats go to members of the license's team only",
        ));
    }
    Ok(user)
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

/// Gives `email` a seat on the license, creating the member account if needed.
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
    let user = member_by_email(&*uow, license.developer_id, &email, now).await?;
    let already = LicenseAssignments::find()
        .filter(license_assignments::Column::LicenseId.eq(license_id))
        .filter(license_assignments::Column::UserId.eq(user.id))
        .filter(license_assignments::Column::Status.eq(ACTIVE))
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
        user_id: Set(user.id),
        status: Set(ACTIVE.to_owned()),
        assigned_at: Set(now.into()),
        released_at: Set(None),
        assigned_by: Set(actor.caller.audit_actor().1),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&*uow)
    .await?;
    let metadata = json!({ "assignmentId": assignment.id, "userId": user.id, "email": user.email });
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

/// Frees the seat held by an active assignment.
#[tracing::instrument(skip(actor))]
pub async fn release(actor: &Actor, assignment_id: Uuid, how: Release) -> AppResult<Seat> {
    let now = actor.now;
    let mut uow = UnitOfWork::begin(actor).await?;
    let assignment = LicenseAssignments::find_by_id(assignment_id)
        .one(&*uow)
        .await?
        .ok_or(AppError::NotFound("assignment"))?;
    let license = managed_license(&*uow, actor, assignment.license_id)
        .await
        .map_err(|_| AppError::NotFound("assignment"))?;
    let released = LicenseAssignments::update_many()
        .col_expr(
            license_assignments::Column::Status,
            Expr::value(how.status().as_str()),
        )
        .col_expr(license_assignments::Column::ReleasedAt, Expr::value(now))
        .col_expr(license_assignments::Column::UpdatedAt, Expr::value(now))
        .filter(license_assignments::Column::Id.eq(assignment_id))
        .filter(license_assignments::Column::Status.eq(ACTIVE))
        .exec(&*uow)
        .await?;
    if released.rows_affected == 0 {
        return Err(ConflictReason::NotAssigned.into());
    }
    Licenses::update_many()
        .col_expr(
            licenses::Column::SeatsUsed,
            Expr::col(licenses::Column::SeatsUsed).sub(1),
        )
        .col_expr(licenses::Column::UpdatedAt, Expr::value(now))
        .filter(licenses::Column::Id.eq(license.id))
        .exec(&*uow)
        .await?;
    let kind = match how {
        Release::Unassign => "seat.unassigned",
        Release::Revoke => "seat.revoked",
    };
    let metadata = json!({ "assignmentId": assignment_id, "userId": assignment.user_id });
    uow.record(seat_change(
        kind,
        "license.seat_released",
        &license,
        metadata,
    ))
    .await?;
    uow.commit().await?;
    let released = LicenseAssignments::find_by_id(assignment_id)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("assignment"))?;
    Ok((released, license.developer_id))
}

/// The active assignment of `email` on a license, for releasing by email.
pub async fn active_assignment_id(actor: &Actor, license_id: Uuid, email: &str) -> AppResult<Uuid> {
    let db = &actor.app.db;
    managed_license(db, actor, license_id).await?;
    let email = input::email(email)
        .map_err(|_| AppError::validation("userEmail", "not a valid email address"))?;
    let user = Users::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("assignment"))?;
    LicenseAssignments::find()
        .filter(license_assignments::Column::LicenseId.eq(license_id))
        .filter(license_assignments::Column::UserId.eq(user.id))
        .filter(license_assignments::Column::Status.eq(ACTIVE))
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
