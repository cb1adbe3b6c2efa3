//! Passwords after signup: a reset by mailed link for a forgotten one, a change for a known
//! one. Either ends the account's other sessions at once, on every gateway.

use super::input;
use super::one_time::{self, TokenPurpose, anyone};
use super::service::knock;
use crate::auth::Actor;
use crate::domain::mail::model::{MailKind, OutgoingMail};
use crate::domain::mail::service as mail;
use crate::domain::sessions::service as sessions;
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use entity::{prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Where the reset link points, under `PUBLIC_URL`.
pub const RESET_PATH: &str = "/reset-password";

/// Mails a reset link when `email` belongs to an account that signs in with a password. The
/// answer is the same either way, so it tells no one whether the address has an account.
#[tracing::instrument(skip_all)]
pub async fn request_reset(actor: &Actor, email: &str) -> AppResult<bool> {
    let actor = &anyone(actor);
    knock(actor, "password_reset_request", Some(email)).await?;
    let Ok(email) = input::email(email) else {
        return Ok(true);
    };
    let Some(user) = Users::find()
        .filter(users::Column::Email.eq(email))
        .filter(users::Column::PasswordHash.is_not_null())
        .one(&actor.app.db)
        .await?
    else {
        return Ok(true);
    };
    let mut uow = UnitOfWork::begin(actor).await?;
    let token = one_time::issue(&uow, user.id, TokenPurpose::PasswordReset).await?;
    let body = format!(
        "Hello {},\n\nChoose a new password by following {{link}}\n\n\
         The link works once and expires in an hour. If you did not ask for it, ignore this \
         mail: your password stays as it is.\n",
        user.name
    );
    let message = OutgoingMail::new(
        MailKind::PasswordReset,
        &user.email,
        "Reset your password",
        body,
    )
    .with_link(RESET_PATH, token);
    mail::queue(&mut uow, message).await?;
    uow.record(Change::new("user.password_reset_requested", "user", user.id).owner(user.id))
        .await?;
    uow.commit().await?;
    Ok(true)
}

/// Sets a new password with a reset token; every session of the account ends. Following the
/// mailed link also proves the address.
#[tracing::instrument(skip_all)]
pub async fn reset(actor: &Actor, token: &str, new_password: String) -> AppResult<bool> {
    let actor = &anyone(actor);
    knock(actor, "password_reset", None).await?;
    input::password(&new_password)?;
    // Refuse a dead token before paying for a hash.
    if !token
        .trim()
        .starts_with(crate::auth::opaque_token::PASSWORD_RESET.prefix)
    {
        return Err(one_time::refused());
    }
    let hash = actor.app.passwords.hash(new_password).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let user = one_time::redeem(&uow, TokenPurpose::PasswordReset, token).await?;
    set_password(&uow, user, hash, true).await?;
    let ended = sessions::end_all_within(&uow, user, None).await?;
    uow.record(Change::new("user.password_reset", "user", user).owner(user))
        .await?;
    uow.commit().await?;
    sessions::forget(actor, &ended).await;
    Ok(true)
}

/// Changes the signed-in account's password; its other sessions end, this one goes on.
#[tracing::instrument(skip_all)]
pub async fn change(
    actor: &Actor,
    current_password: String,
    new_password: String,
) -> AppResult<bool> {
    let (id, _) = actor.require_user()?;
    knock(actor, "change_password", Some(&id.to_string())).await?;
    input::password(&new_password)?;
    let app = &actor.app;
    let user = Users::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(AppError::Unauthenticated("this account no longer exists"))?;
    if !app
        .passwords
        .verify(current_password, user.password_hash.clone())
        .await?
    {
        return Err(AppError::validation(
            "currentPassword",
            "not the account's password",
        ));
    }
    let hash = app.passwords.hash(new_password).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    set_password(&uow, id, hash, false).await?;
    let ended = sessions::end_all_within(&uow, id, actor.session).await?;
    uow.record(Change::new("user.password_changed", "user", id).owner(id))
        .await?;
    uow.commit().await?;
    sessions::forget(actor, &ended).await;
    Ok(true)
}

async fn set_password(
    uow: &UnitOfWork<'_>,
    user: Uuid,
    hash: String,
    proves_address: bool,
) -> AppResult<()> {
    let now = uow.actor().now.fixed_offset();
    Users::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user))
        .exec(&**uow)
        .await?;
    if proves_address {
        Users::update_many()
            .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(&**uow)
            .await?;
    }
    Ok(())
}
