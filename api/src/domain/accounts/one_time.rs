//! Single-use account tokens mailed as links: email verification and password reset. Only a
//! digest is stored; a token works once, before it expires, and a newer one of the same
//! purpose replaces the older.

use crate::auth::opaque_token::{self, Kind};
use crate::error::{AppError, AppResult};
use crate::events::UnitOfWork;
use crate::vocabulary::text_enum;
use chrono::Duration;
use entity::{account_tokens, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use uuid::Uuid;

text_enum!(
    /// What a single-use account token proves.
    pub enum TokenPurpose {
        EmailVerification => "email_verification",
        PasswordReset => "password_reset",
    }
);

impl TokenPurpose {
    fn kind(self) -> &'static Kind {
        match self {
            Self::EmailVerification => &opaque_token::EMAIL_VERIFICATION,
            Self::PasswordReset => &opaque_token::PASSWORD_RESET,
        }
    }

    /// How long the mailed link works: a reset is a live credential, so it is short.
    pub fn lifetime(self) -> Duration {
        match self {
            Self::EmailVerification => Duration::days(2),
            Self::PasswordReset => Duration::hours(1),
        }
    }
}

/// The request as the trail records a door anyone may knock at: whatever credential came with
/// it, the token (or the address) is what counts, so the change is the platform's, from the
/// request's IP.
pub fn anyone(actor: &crate::auth::Actor) -> crate::auth::Actor {
    actor.acting_as(crate::auth::Caller::Anonymous)
}

/// The same answer for a token that is unknown, used, expired or of another purpose.
pub fn refused() -> AppError {
    AppError::validation("token", "unknown, used or expired token")
}

/// A new token for `user`, stored as a digest in the unit of work; older unused ones of the
/// same purpose stop working. Answers the plaintext for the mail's link.
pub async fn issue(
    uow: &UnitOfWork<'_>,
    user: Uuid,
    purpose: TokenPurpose,
) -> AppResult<SecretString> {
    let actor = uow.actor();
    let now = actor.now;
    AccountTokens::update_many()
        .col_expr(
            account_tokens::Column::UsedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(account_tokens::Column::UserId.eq(user))
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .filter(account_tokens::Column::UsedAt.is_null())
        .exec(&**uow)
        .await?;
    let token = purpose
        .kind()
        .generate(&actor.app.config.auth.license_key_secret);
    account_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(token.digest),
        expires_at: Set((now + purpose.lifetime()).into()),
        used_at: Set(None),
        created_at: Set(now.into()),
    }
    .insert(&**uow)
    .await?;
    Ok(SecretString::from(token.plaintext))
}

/// Uses up a presented token in the unit of work; answers the account it was issued to.
/// Two requests with one token: only the first gets through.
pub async fn redeem(
    uow: &UnitOfWork<'_>,
    purpose: TokenPurpose,
    presented: &str,
) -> AppResult<Uuid> {
    let kind = purpose.kind();
    let presented = presented.trim();
    if !kind.looks_like(presented) || presented.len() > 128 {
        return Err(refused());
    }
    let actor = uow.actor();
    let digest = kind.digest(&actor.app.config.auth.license_key_secret, presented);
    let row = AccountTokens::find()
        .filter(account_tokens::Column::TokenHash.eq(digest))
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .one(&**uow)
        .await?
        .filter(|row| row.used_at.is_none() && row.expires_at > actor.now)
        .ok_or_else(refused)?;
    let used = AccountTokens::update_many()
        .col_expr(
            account_tokens::Column::UsedAt,
            Expr::value(actor.now.fixed_offset()),
        )
        .filter(account_tokens::Column::Id.eq(row.id))
        .filter(account_tokens::Column::UsedAt.is_null())
        .exec(&**uow)
        .await?;
    if used.rows_affected == 0 {
        return Err(refused());
    }
    Ok(row.user_id)
}
