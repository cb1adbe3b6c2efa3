use super::invitations::{self, state};
use super::loaders::InvitationById;
use super::model::InvitationState;
use super::team;
use crate::auth::Audience;
use crate::domain::accounts::loaders::UserById;
use crate::domain::accounts::schema::{AuthPayload, User};
use crate::graphql::connection::{PagedConnection, connection};
use crate::graphql::context::{ContextExt, related_one};
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::paging::{PageArgs, id_cursor};
use async_graphql::{Context, Object, Result};
use chrono::{DateTime, Utc};
use entity::invitations as rows;
use uuid::Uuid;

/// An invitation to a developer's team. Its token only ever travels in the mailed link.
pub struct Invitation(rows::Model);

impl Guarded for Invitation {
    type Row = rows::Model;

    fn audience(row: &rows::Model) -> Audience {
        Audience::Developer(row.developer_id)
    }

    /// The object never holds the token's digest.
    fn wrap(mut row: rows::Model, _: Seen) -> Self {
        row.token_hash.clear();
        Self(row)
    }
}

#[Object]
impl Invitation {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The address invited.
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn status(&self, ctx: &Context<'_>) -> Result<InvitationState> {
        Ok(state(&self.0, ctx.actor()?.now)?)
    }
    /// When the link stops working, while the invitation is open.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at.with_timezone(&Utc)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    /// The account the invitation became, once accepted (and while it exists).
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.member_id {
            Some(id) => related_one::<UserById, User>(ctx, id).await,
            None => Ok(None),
        }
    }
}

impl Invitation {
    /// The invitation an assignment waits on, seen through the same rule.
    pub async fn of(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<Invitation>> {
        match id {
            Some(id) => related_one::<InvitationById, Invitation>(ctx, id).await,
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct MembersQuery;

#[Object]
impl MembersQuery {
    /// A team's members, in the order they joined: the caller's own team, or for an admin the
    /// team of `developerId`.
    async fn members(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<User>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let developer = invitations::team_of(&actor.app.db, actor, developer_id).await?;
        let rows = team::page(actor, developer.id, &page).await?;
        let count = team::count(actor, developer.id);
        connection::<User>(ctx, rows, |_, u| id_cursor(u.id), count).await
    }

    /// A team's invitations, newest first, optionally in one status: the caller's own team, or
    /// for an admin the team of `developerId`.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        developer_id: Option<Uuid>,
        status: Option<InvitationState>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<PagedConnection<Invitation>> {
        let actor = ctx.actor()?;
        let page = PageArgs::by_id(first, after, actor.app.config.limits.max_page_size)?;
        let developer = invitations::team_of(&actor.app.db, actor, developer_id).await?;
        let rows = invitations::page(actor, developer.id, status, &page).await?;
        let count = invitations::count(actor, developer.id, status);
        connection::<Invitation>(ctx, rows, |_, i| id_cursor(i.id), count).await
    }
}

#[derive(Default)]
pub struct MembersMutation;

#[Object]
impl MembersMutation {
    /// Invites an address to the team and mails it a link that works once, for 7 days. Bounded
    /// by the plan's `max_team_members` (members and open invitations): QUOTA_EXCEEDED past
    /// it. Inviting an open invitation's address again renews and re-mails it. The developer
    /// (with a verified address) or an admin naming `developerId`.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        email: String,
        developer_id: Option<Uuid>,
    ) -> Result<Invitation> {
        let actor = ctx.actor()?;
        let invitation = invitations::invite(actor, developer_id, &email).await?;
        Ok(shown_or_not_found(actor, invitation, "invitation")?)
    }

    /// Joins the team with the token from the mailed link, choosing a name and a password;
    /// answers the new member signed in. The seats offered to the address become its own.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        name: String,
        password: String,
    ) -> Result<AuthPayload> {
        let joined = invitations::accept(ctx.actor()?, &token, &name, password).await?;
        AuthPayload::signed_in(&joined.actor, joined.user, joined.session)
    }

    /// Withdraws an open invitation: its link stops working, the seats offered with it are
    /// freed.
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        invitation_id: Uuid,
    ) -> Result<Invitation> {
        let actor = ctx.actor()?;
        let invitation = invitations::revoke(actor, invitation_id).await?;
        Ok(shown_or_not_found(actor, invitation, "invitation")?)
    }

    /// Removes a member: its seats are revoked, its sessions end (open sockets close with
    /// 4403) and its account is deleted. Answers the account as it was.
    async fn remove_member(&self, ctx: &Context<'_>, member_id: Uuid) -> Result<User> {
        let actor = ctx.actor()?;
        let member = team::remove(actor, member_id).await?;
        Ok(shown_or_not_found(actor, member, "member")?)
    }
}
