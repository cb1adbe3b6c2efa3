//! Sign-in sessions. A sign-in opens a session (a family of refresh tokens); its access tokens
//! name it and live minutes; its refresh token is traded for a new pair and is used up doing
//! so. Presenting a used-up refresh token again means it was copied: the whole family is
//! revoked, so the copy and the original both stop working. Logging out revokes a family, and
//! every gateway forgets it at once (`liveness.rs`).

use crate::auth::opaque_token::REFRESH;
use crate::auth::{Actor, Caller, IssuedToken, Role};
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use chrono::Duration;
use entity::{prelude::*, sessions, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::ExprTrait,
};
use serde_json::json;
use uuid::Uuid;

/// A session's new pair: the access token and the refresh token that renews it, shown once.
pub struct Opened {
    /// The session (the family its refresh tokens belong to).
    pub id: Uuid,
    pub access: IssuedToken,
    pub refresh: String,
}

const REFUSED: AppError = AppError::Unauthenticated("unknown, used or expired refresh token");

/// Opens a session for `user` inside the unit of work that signs it in.
pub async fn open(uow: &mut UnitOfWork<'_>, user: Uuid, role: Role) -> AppResult<Opened> {
    let family = Uuid::now_v7();
    let refresh = issue_refresh(uow, family, user).await?;
    let change = Change::new("session.opened", "user", user)
        .owner(user)
        .metadata(json!({ "session": family }));
    uow.record(change).await?;
    let actor = uow.actor();
    let access = actor.app.jwt.issue(user, role, family, actor.now)?;
    // This gateway knows the session holds; should the transaction fail, no token leaves.
    actor.app.liveness.opened(family);
    Ok(Opened {
        id: family,
        access,
        refresh,
    })
}

/// The next refresh token of `family`: stored as a digest, answered once.
async fn issue_refresh(uow: &UnitOfWork<'_>, family: Uuid, user: Uuid) -> AppResult<String> {
    let actor = uow.actor();
    let auth = &actor.app.config.auth;
    let token = REFRESH.generate(&auth.license_key_secret);
    sessions::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family),
        user_id: Set(user),
        token_hash: Set(token.digest),
        expires_at: Set((actor.now + Duration::seconds(auth.refresh_ttl_seconds)).into()),
        used_at: Set(None),
        revoked_at: Set(None),
        ip: Set(actor.meta.ip.clone()),
        user_agent: Set(actor.meta.user_agent.clone()),
        created_at: Set(actor.now.into()),
    }
    .insert(&**uow)
    .await?;
    Ok(token.plaintext)
}

/// A refreshed sign-in: the account, its new pair, and the request acting as it.
pub struct Refreshed {
    pub user: users::Model,
    pub opened: Opened,
    pub actor: Actor,
}

/// Trades a refresh token for a new pair, using it up. A token used up before revokes its
/// whole session: someone else holds a copy.
pub async fn refresh(actor: &Actor, presented: &str) -> AppResult<Refreshed> {
    let app = &actor.app;
    if !REFRESH.looks_like(presented) {
        return Err(REFUSED);
    }
    let digest = REFRESH.digest(&app.config.auth.license_key_secret, presented.trim());
    let mut uow = UnitOfWork::begin(actor).await?;
    let Some(row) = Sessions::find()
        .filter(sessions::Column::TokenHash.eq(digest))
        .one(&*uow)
        .await?
    else {
        return Err(REFUSED);
    };
    if row.revoked_at.is_some() || row.expires_at < actor.now {
        return Err(REFUSED);
    }
    // Used up here and now, or by a request that got there first: either way, only once.
    let used = Sessions::update_many()
        .col_expr(
            sessions::Column::UsedAt,
            Expr::value(actor.now.fixed_offset()),
        )
        .filter(sessions::Column::Id.eq(row.id))
        .filter(sessions::Column::UsedAt.is_null())
        .exec(&*uow)
        .await?;
    if used.rows_affected == 0 {
        let revoked = revoke(&uow, FamilyOrUser::Family(row.family_id)).await?;
        let change = Change::new("session.reuse_detected", "user", row.user_id)
            .owner(row.user_id)
            .metadata(json!({ "session": row.family_id }));
        uow.record(change).await?;
        uow.commit().await?;
        app.liveness.forget(&app.bus, &revoked).await;
        return Err(REFUSED);
    }
    let user = Users::find_by_id(row.user_id)
        .one(&*uow)
        .await?
        .ok_or(REFUSED)?;
    // The account's role now, not when the session opened: a changed role holds at once.
    let role = Role::from_stored(&user.role)?;
    let refresh = issue_refresh(&uow, row.family_id, user.id).await?;
    let access = app.jwt.issue(user.id, role, row.family_id, actor.now)?;
    uow.commit().await?;
    let actor = actor
        .acting_as(Caller::User { id: user.id, role })
        .in_session(row.family_id);
    Ok(Refreshed {
        user,
        opened: Opened {
            id: row.family_id,
            access,
            refresh,
        },
        actor,
    })
}

/// Ends the session the request's access token belongs to.
pub async fn logout(actor: &Actor) -> AppResult<bool> {
    let (user, _) = actor.require_user()?;
    let family = actor.session.ok_or(AppError::Unauthenticated(
        "sign in with an access token to log out",
    ))?;
    end(actor, user, FamilyOrUser::Family(family))
        .await
        .map(|ended| ended > 0)
}

/// Ends every session of the request's account; answers how many there were.
pub async fn logout_everywhere(actor: &Actor) -> AppResult<u64> {
    let (user, _) = actor.require_user()?;
    end(actor, user, FamilyOrUser::User(user)).await
}

async fn end(actor: &Actor, user: Uuid, which: FamilyOrUser) -> AppResult<u64> {
    let mut uow = UnitOfWork::begin(actor).await?;
    let revoked = revoke(&uow, which).await?;
    let change = Change::new("session.ended", "user", user)
        .owner(user)
        .metadata(json!({ "sessions": revoked }));
    uow.record(change).await?;
    uow.commit().await?;
    let app = &actor.app;
    app.liveness.forget(&app.bus, &revoked).await;
    Ok(revoked.len() as u64)
}

enum FamilyOrUser {
    Family(Uuid),
    User(Uuid),
    /// Every session of the account but the one in use.
    UserBut(Uuid, Uuid),
}

/// Ends the sessions of `user` inside a unit of work that changes what they were opened on
/// (a password, a membership), keeping `keep` (the session making the change) if given.
/// Answers the sessions ended: hand them to `forget` once the unit of work commits.
pub async fn end_all_within(
    uow: &UnitOfWork<'_>,
    user: Uuid,
    keep: Option<Uuid>,
) -> AppResult<Vec<Uuid>> {
    let which = match keep {
        Some(family) => FamilyOrUser::UserBut(user, family),
        None => FamilyOrUser::User(user),
    };
    revoke(uow, which).await
}

/// Tells every gateway that these sessions ended: their access tokens stop working and their
/// sockets close at once.
pub async fn forget(actor: &Actor, families: &[Uuid]) {
    let app = &actor.app;
    app.liveness.forget(&app.bus, families).await;
}

/// Revokes every live token of a session (or of an account); answers the sessions it ended.
async fn revoke(uow: &UnitOfWork<'_>, which: FamilyOrUser) -> AppResult<Vec<Uuid>> {
    let live = match which {
        FamilyOrUser::Family(family) => sessions::Column::FamilyId.eq(family),
        FamilyOrUser::User(user) => sessions::Column::UserId.eq(user),
        FamilyOrUser::UserBut(user, keep) => sessions::Column::UserId
            .eq(user)
            .and(sessions::Column::FamilyId.ne(keep)),
    };
    let mut families: Vec<Uuid> = Sessions::find()
        .select_only()
        .column(sessions::Column::FamilyId)
        .filter(live.clone())
        .filter(sessions::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&**uow)
        .await?;
    families.sort_unstable();
    families.dedup();
    Sessions::update_many()
        .col_expr(
            sessions::Column::RevokedAt,
            Expr::value(uow.actor().now.fixed_offset()),
        )
        .filter(live)
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(&**uow)
        .await?;
    Ok(families)
}
