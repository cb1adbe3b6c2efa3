//! Email verification: signup mails a single-use link; following it (`verifyEmail`) marks the
//! address verified. An unverified developer may do everything but send mail in the vendor's
//! name to other people: inviting members (`inviteMember`, or a seat for an email outside the
//! team) answers FORBIDDEN until the address is verified.

use super::one_time::{self, TokenPurpose, anyone};
use super::service::knock;
use crate::auth::Actor;
use crate::domain::mail::model::{MailKind, OutgoingMail};
use crate::domain::mail::service as mail;
use crate::error::{AppError, AppResult};
use crate::events::{Change, Event, UnitOfWork};
use entity::{prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

/// Where the verification link points, under `PUBLIC_URL`.
pub const VERIFY_PATH: &str = "/verify-email";

/// Queues the verification mail for `user` in the unit of work that needs it.
pub async fn queue_mail(uow: &mut UnitOfWork<'_>, user: &users::Model) -> AppResult<()> {
    let token = one_time::issue(uow, user.id, TokenPurpose::EmailVerification).await?;
    let body = format!(
        "Hello {},\n\nConfirm that this is your address by following {{link}}\n\n\
         The link works once and expires in 2 days. If you did not sign up, ignore this mail.\n",
        user.name
    );
    let message = OutgoingMail::new(
        MailKind::EmailVerification,
        &user.email,
        "Confirm your email address",
        body,
    )
    .with_link(VERIFY_PATH, token);
    mail::queue(uow, message).await?;
    Ok(())
}

/// Marks the address of the token's account verified. Anyone holding the link may follow it.
#[tracing::instrument(skip_all)]
pub async fn verify(actor: &Actor, token: &str) -> AppResult<bool> {
    let actor = &anyone(actor);
    knock(actor, "verify_email", None).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let user = one_time::redeem(&uow, TokenPurpose::EmailVerification, token).await?;
    Users::update_many()
        .col_expr(
            users::Column::EmailVerifiedAt,
            Expr::value(actor.now.fixed_offset()),
        )
        .filter(users::Column::Id.eq(user))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(&*uow)
        .await?;
    uow.record(
        Change::new("user.email_verified", "user", user)
            .owner(user)
            .publish(Event {
                kind: "user.email_verified".into(),
                entity_id: user,
                developer_id: Some(user),
                data: serde_json::Value::Null,
            }),
    )
    .await?;
    uow.commit().await?;
    Ok(true)
}

/// Mails the signed-in account a new verification link (the old one stops working).
pub async fn resend(actor: &Actor) -> AppResult<bool> {
    let (id, _) = actor.require_user()?;
    knock(actor, "verify_email", Some(&id.to_string())).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let user = Users::find_by_id(id)
        .one(&*uow)
        .await?
        .ok_or(AppError::Unauthenticated("this account no longer exists"))?;
    if user.email_verified_at.is_some() {
        return Ok(false);
    }
    queue_mail(&mut uow, &user).await?;
    let metadata = json!({ "email": user.email });
    uow.record(
        Change::new("user.verification_mailed", "user", id)
            .owner(id)
            .metadata(metadata),
    )
    .await?;
    uow.commit().await?;
    Ok(true)
}

/// FORBIDDEN unless `developer`'s address is verified (admins act regardless): the one thing an
/// unverified developer may not do is have mail sent to others in its name.
pub fn require_verified(actor: &Actor, developer: &users::Model) -> AppResult<()> {
    if actor.caller.is_admin() || developer.email_verified_at.is_some() {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "verify your email address before inviting anyone (see `requestEmailVerification`)",
    ))
}
