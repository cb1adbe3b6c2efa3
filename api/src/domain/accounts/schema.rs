use super::model::DeveloperFilter;
use super::service::{self, SignupInput};
use super::shaped;
use super::{recovery, verification};
use crate::auth::Role;
use crate::auth::{Actor, Audience};
use crate::domain::entitlements::schema::{self as entitlement_schema, Entitlement};
use crate::domain::instances::loaders::InstancesByDeveloper;
use crate::domain::instances::schema::Instance;
use crate::domain::licenses::loaders::LicensesByDeveloper;
use crate::domain::licenses::schema::License;
use crate::domain::sessions::service::Opened;
use crate::graphql::connection::{PagedConnection, connection_ahead};
use crate::graphql::context::{ContextExt, related};
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use crate::graphql::plain::{Plain, plain_fields};
use crate::graphql::shaped::{Ahead, ShapedEdge};
use crate::graphql::siblings::Together;
use crate::paging::{PageArgs, creation_cursor};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::users;
use uuid::Uuid;

/// An account as the schema shows it (its plain fields answered in place).
pub type User = Plain<UserObject>;

/// An account: a developer (who owns licenses), a team member, or an admin.
/// With the accounts listed beside it, which load their relations together.
pub struct UserObject(users::Model, Together);

impl Guarded for User {
    type Row = users::Model;

    fn audience(row: &users::Model) -> Audience {
        Audience::Account {
            id: row.id,
            developer: row.developer_id,
        }
    }

    fn wrap(row: users::Model, seen: Seen) -> Self {
        Plain(UserObject(row, seen.together()))
    }

    fn sibling_key(row: &users::Model) -> Option<Uuid> {
        Some(row.id)
    }
}

plain_fields!(UserObject {
    "id" => value(id),
    "email" => value(email),
    "name" => value(name),
    "role" => fallible(role),
    "emailVerifiedAt" => value(email_verified_at),
    "createdAt" => value(created_at),
    "updatedAt" => value(updated_at),
} shaped(shaped_relation));

impl UserObject {
    /// Its licenses, as PostgreSQL may shape them (`graphql::shaped`).
    fn shaped_relation(&self, name: &str) -> Option<ShapedEdge<'_>> {
        let relation = shaped::USER.relations.iter().find(|r| r.name == name)?;
        Some(ShapedEdge {
            relation,
            key: self.0.id,
            // The licenses reached are the rows naming this account as their developer.
            owner: Some(self.0.id),
            together: &self.1,
        })
    }
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> Result<Option<Role>> {
        Ok(Some(Role::from_stored(&self.0.role)?))
    }
    async fn email_verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.email_verified_at.map(|t| t.with_timezone(&Utc))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at.with_timezone(&Utc)
    }
    /// The developer's customer instances, oldest first.
    async fn instances(&self, ctx: &Context<'_>) -> Result<Vec<Instance>> {
        related::<InstancesByDeveloper, Instance>(ctx, &self.1, self.0.id).await
    }
    /// What this developer's plan and overrides grant, with usage where metered (empty for
    /// accounts that are not developers).
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Vec<Entitlement>> {
        if Role::from_stored(&self.0.role)? != Role::Developer {
            return Ok(Vec::new());
        }
        entitlement_schema::load_for(ctx, self.0.id).await
    }
    /// The licenses this developer owns, oldest first.
    async fn licenses(&self, ctx: &Context<'_>) -> Result<Vec<License>> {
        related::<LicensesByDeveloper, License>(ctx, &self.1, self.0.id).await
    }
}

#[derive(InputObject)]
#[graphql(name = "SignupInput")]
pub struct SignupInputGql {
    email: String,
    name: String,
    password: String,
    /// A plan code from `plans`, e.g. `solo`.
    plan_code: String,
}

#[derive(SimpleObject)]
pub struct SignupPayload {
    developer: User,
    license: License,
    /// The license key in plaintext. Shown this once: only its digest is stored.
    license_key: String,
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
    /// Renews the access token (`refreshToken`); works once, shown this once.
    refresh_token: String,
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    access_token: String,
    expires_at: DateTime<Utc>,
    user: User,
    /// Renews the access token (`refreshToken`); works once, shown this once.
    refresh_token: String,
}

impl AuthPayload {
    /// The answer to a sign-in: the session's new pair, and the account as it sees itself.
    pub fn signed_in(actor: &Actor, user: users::Model, session: Opened) -> Result<Self> {
        Ok(Self {
            access_token: session.access.token,
            expires_at: session.access.expires_at,
            user: shown_or_not_found(actor, user, "account")?,
            refresh_token: session.refresh,
        })
    }
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in account.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let actor = ctx.actor()?;
        Ok(shown_or_not_found(
            actor,
            service::me(actor).await?,
            "account",
        )?)
    }

    /// Developers, oldest first. Admins only.
    async fn developers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DeveloperFilter>,
    ) -> Result<PagedConnection<User>> {
        let actor = ctx.actor()?;
        let mut page = PageArgs::by_creation(first, after, actor.app.config.limits.max_page_size)?;
        let ahead = Ahead::of(ctx, &shaped::USER, "users");
        if let Some(ahead) = &ahead {
            page.also = ahead.columns();
        }
        let filter = filter.unwrap_or_default();
        let rows = service::list_developers(actor, &filter, &page).await?;
        let count = service::count_developers(actor, &filter);
        let cursor = |_, u: &users::Model| creation_cursor(u.created_at, u.id);
        connection_ahead::<User>(ctx, rows, cursor, count, ahead).await
    }

    /// One developer by id. Admins only.
    async fn developer(&self, ctx: &Context<'_>, id: Uuid) -> Result<User> {
        let actor = ctx.actor()?;
        let found = service::developer(actor, id).await?;
        Ok(shown_or_not_found(actor, found, "developer")?)
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Opens an account: the developer, a trial of the plan and a trialing license, in one
    /// transaction. The license key in the answer is never shown again.
    async fn signup(&self, ctx: &Context<'_>, input: SignupInputGql) -> Result<SignupPayload> {
        let input = SignupInput {
            email: input.email,
            name: input.name,
            password: input.password,
            plan_code: input.plan_code,
        };
        let out = service::signup(ctx.actor()?, input).await?;
        // What the answer shows, it shows to the account it just made.
        let developer = &out.actor;
        Ok(SignupPayload {
            developer: shown_or_not_found(developer, out.developer, "developer")?,
            license: shown_or_not_found(developer, out.license, "license")?,
            license_key: out.license_key,
            access_token: out.session.access.token,
            access_token_expires_at: out.session.access.expires_at,
            refresh_token: out.session.refresh,
        })
    }

    /// An access token for an email and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let signed_in = service::login(ctx.actor()?, &email, password).await?;
        AuthPayload::signed_in(&signed_in.actor, signed_in.user, signed_in.session)
    }

    /// Marks an address verified with the token from the mailed link. Answers true.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        Ok(verification::verify(ctx.actor()?, &token).await?)
    }

    /// Mails the signed-in account a new verification link. False when it is verified already.
    async fn request_email_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(verification::resend(ctx.actor()?).await?)
    }

    /// Mails a password reset link if the address has an account. Always answers true, so the
    /// answer tells no one whether it has.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        Ok(recovery::request_reset(ctx.actor()?, &email).await?)
    }

    /// Sets a new password with the token from the mailed link; every session of the account
    /// ends. Answers true.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> Result<bool> {
        Ok(recovery::reset(ctx.actor()?, &token, password).await?)
    }

    /// Changes the signed-in account's password; its other sessions end. Answers true.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        Ok(recovery::change(ctx.actor()?, current_password, new_password).await?)
    }
}
