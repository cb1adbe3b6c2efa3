//! Invitations to a developer's team. One open invitation per (team, address): inviting again
//! renews it. Its token goes out once, in the mailed link, and is stored as a digest; accepting
//! it makes the member's account and gives it the seats that waited on the invitation. No
//! answer here says whether an address has an account elsewhere: an invitation to such an
//! address is made and mailed like any other, and only its recipient learns, on accepting,
//! that the address is taken.

use super::model::{InvitationState, InvitationStatus};
use crate::auth::opaque_token::INVITATION;
use crate::auth::{Actor, Caller, Role};
use crate::domain::accounts::service::{NewAccount, SignedIn, insert_user, knock, lock_developer};
use crate::domain::accounts::{input, verification};
use crate::domain::entitlements::resolve::resolve_one;
use crate::domain::mail::model::{MailKind, OutgoingMail};
use crate::domain::mail::service as mail;
use crate::domain::seats::service::{Release, SeatHolder, release_all_of};
use crate::domain::sessions::service as sessions;
use crate::error::{AppError, AppResult, ConflictReason};
use crate::events::{Change, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Duration, Utc};
use entity::{invitations, license_assignments, prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select, Set,
};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

/// How long an invitation's link works.
pub const LIFETIME_DAYS: i64 = 7;

/// Where the invitation link points, under `PUBLIC_URL`.
pub const ACCEPT_PATH: &str = "/accept-invitation";

const PENDING: &str = InvitationStatus::Pending.as_str();

/// Whether opening an invitation that is already open mails it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// `inviteMember`: the developer asks for the mail.
    Yes,
    /// A seat for an invited address: one mail per invitation is enough.
    No,
}

/// What clients see of a stored invitation's standing at `now`.
pub fn state(row: &invitations::Model, now: DateTime<Utc>) -> AppResult<InvitationState> {
    Ok(match InvitationStatus::from_stored(&row.status)? {
        InvitationStatus::Pending if row.expires_at <= now => InvitationState::Expired,
        InvitationStatus::Pending => InvitationState::Pending,
        InvitationStatus::Accepted => InvitationState::Accepted,
        InvitationStatus::Revoked => InvitationState::Revoked,
    })
}

/// The team the request acts on: a developer's own (naming another is NOT_FOUND), or for an
/// admin the developer it names.
pub async fn team_of(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    developer_id: Option<Uuid>,
) -> AppResult<users::Model> {
    let id = match (actor.require_user()?, developer_id) {
        ((_, Role::Admin), Some(id)) => id,
        ((_, Role::Admin), None) => {
            return Err(AppError::validation(
                "developerId",
                "admins name the developer whose team it is",
            ));
        }
        ((me, Role::Developer), named) if named.is_none_or(|id| id == me) => me,
        ((_, Role::Developer), _) => return Err(AppError::NotFound("developer")),
        ((_, Role::Member), _) => {
            return Err(AppError::Forbidden(
                "only the team's developer manages its team",
            ));
        }
    };
    Users::find_by_id(id)
        .filter(users::Column::Role.eq(Role::Developer.as_str()))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("developer"))
}

/// The open invitation of `email` to `developer`'s team, made (or renewed, if expired or
/// `resend` asks) and mailed inside the unit of work. Bounded by the plan's
/// `max_team_members`, counting members and open invitations: QUOTA_EXCEEDED past it.
pub async fn open(
    uow: &mut UnitOfWork<'_>,
    developer: &users::Model,
    email: &str,
    resend: Resend,
) -> AppResult<invitations::Model> {
    let actor = uow.actor();
    let now = actor.now;
    verification::require_verified(actor, developer)?;
    // One developer's invitations are made one at a time, so the limit holds under load.
    lock_developer(&**uow, developer.id).await?;
    let existing = Invitations::find()
        .filter(invitations::Column::DeveloperId.eq(developer.id))
        .filter(invitations::Column::Email.eq(email))
        .filter(invitations::Column::Status.eq(PENDING))
        .one(&**uow)
        .await?;
    if let Some(open) = existing {
        if resend == Resend::No && open.expires_at > now {
            return Ok(open);
        }
        return renew(uow, developer, open).await;
    }
    check_team_room(&**uow, developer.id, now).await?;
    let token = INVITATION.generate(&actor.app.config.auth.license_key_secret);
    let invitation = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(developer.id),
        email: Set(email.to_owned()),
        token_hash: Set(token.digest),
        status: Set(PENDING.to_owned()),
        expires_at: Set((now + Duration::days(LIFETIME_DAYS)).into()),
        invited_by: Set(actor.caller.audit_actor().1),
        member_id: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(&**uow)
    .await?;
    send(uow, developer, &invitation, token.plaintext.into()).await?;
    record(uow, "member.invited", &invitation).await?;
    Ok(invitation)
}

/// A new token and a new expiry for an open invitation, mailed; the old link stops working.
async fn renew(
    uow: &mut UnitOfWork<'_>,
    developer: &users::Model,
    open: invitations::Model,
) -> AppResult<invitations::Model> {
    let actor = uow.actor();
    let token = INVITATION.generate(&actor.app.config.auth.license_key_secret);
    let mut row: invitations::ActiveModel = open.into();
    row.token_hash = Set(token.digest);
    row.expires_at = Set((actor.now + Duration::days(LIFETIME_DAYS)).into());
    row.updated_at = Set(actor.now.into());
    let invitation = row.update(&**uow).await?;
    send(uow, developer, &invitation, token.plaintext.into()).await?;
    record(uow, "member.invitation_renewed", &invitation).await?;
    Ok(invitation)
}

async fn check_team_room(
    conn: &impl ConnectionTrait,
    developer: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let limit = resolve_one(conn, developer, now)
        .await?
        .limit("max_team_members");
    let Some(limit) = limit else {
        return Ok(());
    };
    let members = Users::find()
        .filter(users::Column::DeveloperId.eq(developer))
        .filter(users::Column::Role.eq(Role::Member.as_str()))
        .count(conn)
        .await?;
    let invited = Invitations::find()
        .filter(invitations::Column::DeveloperId.eq(developer))
        .filter(invitations::Column::Status.eq(PENDING))
        .filter(invitations::Column::ExpiresAt.gt(now))
        .count(conn)
        .await?;
    let current = (members + invited) as i64;
    if current >= limit.max(0) {
        return Err(AppError::QuotaExceeded {
            metric: "team_members".into(),
            limit,
            current,
            index: None,
        });
    }
    Ok(())
}

async fn send(
    uow: &mut UnitOfWork<'_>,
    developer: &users::Model,
    invitation: &invitations::Model,
    token: SecretString,
) -> AppResult<()> {
    let body = format!(
        "Hello,\n\n{} ({}) invited you to their team. Choose your name and password by \
         following {{link}}\n\nThe link works once and expires in {LIFETIME_DAYS} days. If you \
         did not expect this, ignore this mail.\n",
        developer.name, developer.email
    );
    let message = OutgoingMail::new(
        MailKind::Invitation,
        &invitation.email,
        "You are invited to a team",
        body,
    )
    .with_link(ACCEPT_PATH, token);
    mail::queue(uow, message).await?;
    Ok(())
}

async fn record(
    uow: &mut UnitOfWork<'_>,
    kind: &str,
    invitation: &invitations::Model,
) -> AppResult<()> {
    let metadata = json!({ "email": invitation.email, "expiresAt": invitation.expires_at });
    uow.record(
        Change::new(kind, "invitation", invitation.id)
            .owner(invitation.developer_id)
            .metadata(metadata),
    )
    .await
}

/// `inviteMember`: invites `email` to the team (the caller's own, or for an admin the one it
/// names), mailing the link; inviting an open invitation's address again renews and re-mails
/// it. An address already on the team is CONFLICT (ALREADY_MEMBER).
#[tracing::instrument(skip(actor))]
pub async fn invite(
    actor: &Actor,
    developer_id: Option<Uuid>,
    email: &str,
) -> AppResult<invitations::Model> {
    let email = input::email(email)?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let developer = team_of(&*uow, actor, developer_id).await?;
    let on_team = Users::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&*uow)
        .await?
        .is_some_and(|user| user.id == developer.id || user.developer_id == Some(developer.id));
    if on_team {
        return Err(ConflictReason::AlreadyMember.into());
    }
    let invitation = open(&mut uow, &developer, &email, Resend::Yes).await?;
    uow.commit().await?;
    Ok(invitation)
}

/// `acceptInvitation`: makes the member's account from the mailed token, gives it the seats
/// that waited on the invitation, and signs it in. The token works once, before it expires;
/// an address that has an account already is CONFLICT (EMAIL_TAKEN), told only to the holder
/// of the token.
#[tracing::instrument(skip_all)]
pub async fn accept(
    actor: &Actor,
    token: &str,
    name: &str,
    password: String,
) -> AppResult<SignedIn> {
    knock(actor, "accept_invitation", None).await?;
    let name = input::name(name)?;
    input::password(&password)?;
    let refused = || AppError::validation("token", "unknown, used or expired invitation");
    let token = token.trim();
    if !INVITATION.looks_like(token) || token.len() > 128 {
        return Err(refused());
    }
    let digest = INVITATION.digest(&actor.app.config.auth.license_key_secret, token);
    let invitation = Invitations::find()
        .filter(invitations::Column::TokenHash.eq(digest.as_str()))
        .one(&actor.app.db)
        .await?
        .filter(|row| row.status == PENDING && row.expires_at > actor.now)
        .ok_or_else(refused)?;
    let hash = actor.app.passwords.hash(password).await?;
    let id = Uuid::now_v7();
    let member = actor.acting_as(Caller::User {
        id,
        role: Role::Member,
    });
    let mut uow = UnitOfWork::begin(&member).await?;
    // Accepted here, or by a request that got there first with the same token.
    let claimed = Invitations::update_many()
        .col_expr(
            invitations::Column::Status,
            Expr::value(InvitationStatus::Accepted.as_str()),
        )
        .col_expr(invitations::Column::UpdatedAt, Expr::value(actor.now))
        .filter(invitations::Column::Id.eq(invitation.id))
        .filter(invitations::Column::TokenHash.eq(digest))
        .filter(invitations::Column::Status.eq(PENDING))
        .exec(&*uow)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(refused());
    }
    let account = NewAccount {
        id,
        email: &invitation.email,
        name: &name,
        password_hash: Some(hash),
        role: Role::Member,
        team: Some(invitation.developer_id),
        verified: true,
    };
    let user = insert_user(&*uow, account, actor.now).await?;
    Invitations::update_many()
        .col_expr(invitations::Column::MemberId, Expr::value(id))
        .filter(invitations::Column::Id.eq(invitation.id))
        .exec(&*uow)
        .await?;
    let seated = LicenseAssignments::update_many()
        .col_expr(license_assignments::Column::UserId, Expr::value(id))
        .col_expr(
            license_assignments::Column::Status,
            Expr::value(crate::domain::seats::model::AssignmentStatus::Active.as_str()),
        )
        .col_expr(
            license_assignments::Column::UpdatedAt,
            Expr::value(actor.now),
        )
        .filter(license_assignments::Column::InvitationId.eq(invitation.id))
        .filter(
            license_assignments::Column::Status
                .eq(crate::domain::seats::model::AssignmentStatus::Pending.as_str()),
        )
        .exec(&*uow)
        .await?;
    let metadata = json!({
        "email": user.email,
        "invitationId": invitation.id,
        "seats": seated.rows_affected,
    });
    uow.record(
        Change::new("member.joined", "user", id)
            .owner(invitation.developer_id)
            .metadata(metadata),
    )
    .await?;
    let session = sessions::open(&mut uow, id, Role::Member).await?;
    uow.commit().await?;
    let actor = member.in_session(session.id);
    Ok(SignedIn {
        user,
        session,
        actor,
    })
}

/// `revokeInvitation`: withdraws an open invitation; its link stops working and the seats
/// that waited on it are freed.
#[tracing::instrument(skip(actor))]
pub async fn revoke(actor: &Actor, id: Uuid) -> AppResult<invitations::Model> {
    actor.require_user()?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let invitation = Invitations::find_by_id(id)
        .one(&*uow)
        .await?
        .filter(|row| actor.manages(row.developer_id) && !actor.caller.is_member())
        .ok_or(AppError::NotFound("invitation"))?;
    if !withdraw_within(&mut uow, &invitation).await? {
        return Err(AppError::InvalidTransition {
            from: invitation.status,
            to: InvitationStatus::Revoked.as_str().to_owned(),
        });
    }
    uow.commit().await?;
    Invitations::find_by_id(id)
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("invitation"))
}

/// Withdraws an open invitation inside a unit of work: its link stops working, the seats that
/// waited on it are freed, audited. False when it was not open.
pub(crate) async fn withdraw_within(
    uow: &mut UnitOfWork<'_>,
    invitation: &invitations::Model,
) -> AppResult<bool> {
    let now = uow.actor().now;
    let withdrawn = Invitations::update_many()
        .col_expr(
            invitations::Column::Status,
            Expr::value(InvitationStatus::Revoked.as_str()),
        )
        .col_expr(invitations::Column::UpdatedAt, Expr::value(now))
        .filter(invitations::Column::Id.eq(invitation.id))
        .filter(invitations::Column::Status.eq(PENDING))
        .exec(&**uow)
        .await?;
    if withdrawn.rows_affected == 0 {
        return Ok(false);
    }
    release_all_of(
        uow,
        SeatHolder::Invitation(invitation.id),
        Release::Unassign,
    )
    .await?;
    record(uow, "member.invitation_revoked", invitation).await?;
    Ok(true)
}

fn of_team(
    developer: Uuid,
    state: Option<InvitationState>,
    now: DateTime<Utc>,
) -> Select<Invitations> {
    use InvitationState as S;
    let query = Invitations::find().filter(invitations::Column::DeveloperId.eq(developer));
    let stored = |status: InvitationStatus| invitations::Column::Status.eq(status.as_str());
    match state {
        None => query,
        Some(S::Pending) => query
            .filter(stored(InvitationStatus::Pending))
            .filter(invitations::Column::ExpiresAt.gt(now)),
        Some(S::Expired) => query
            .filter(stored(InvitationStatus::Pending))
            .filter(invitations::Column::ExpiresAt.lte(now)),
        Some(S::Accepted) => query.filter(stored(InvitationStatus::Accepted)),
        Some(S::Revoked) => query.filter(stored(InvitationStatus::Revoked)),
    }
}

/// One page of a team's invitations, newest first, optionally in one state.
pub async fn page(
    actor: &Actor,
    developer: Uuid,
    state: Option<InvitationState>,
    page: &PageArgs,
) -> AppResult<Page<invitations::Model>> {
    let mut query = of_team(developer, state, actor.now).order_by_desc(invitations::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(invitations::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(
    actor: &Actor,
    developer: Uuid,
    state: Option<InvitationState>,
) -> AppResult<Count> {
    total_count::count(&actor.app, of_team(developer, state, actor.now)).await
}
