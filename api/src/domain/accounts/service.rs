//! Accounts: signup, login, the first admin, and the admin's view of developers.

use super::input;
use super::model::DeveloperFilter;
use super::readable::accounts;
use super::verification;
use crate::auth::{Actor, Caller, Role};
use crate::domain::licenses::service as licenses_service;
use crate::domain::plans::service as plans_service;
use crate::domain::sessions::service::{self as sessions, Opened};
use crate::error::{AppError, AppResult};
use crate::events::{Change, Event, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use chrono::{DateTime, Duration, Utc};
use entity::{licenses, plans, prelude::*, trials, users};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

pub struct SignupInput {
    pub email: String,
    pub name: String,
    pub password: String,
    pub plan_code: String,
}

pub struct SignupOutcome {
    /// The request, acting as the developer it created.
    pub actor: Actor,
    pub developer: users::Model,
    pub license: licenses::Model,
    /// The plaintext key: returned this once, never stored.
    pub license_key: String,
    /// The new account's first session.
    pub session: Opened,
}

/// Creates the developer, its trial and its first license in one transaction.
#[tracing::instrument(skip_all)]
pub async fn signup(actor: &Actor, input: SignupInput) -> AppResult<SignupOutcome> {
    let (app, now) = (&actor.app, actor.now);
    knock(actor, "signup", Some(&input.email)).await?;
    let email = input::email(&input.email)?;
    let name = input::name(&input.name)?;
    input::password(&input.password)?;
    let plan = plans_service::purchasable(&app.db, &input.plan_code).await?;
    let entitlements = PlanEntitlements::find_by_id(plan.id).one(&app.db).await?;
    // Hash before the transaction opens: it is slow and needs no lock.
    let password_hash = app.passwords.hash(input.password).await?;
    let id = Uuid::now_v7();
    // Everything a signup records is done by the developer it creates.
    let developer_actor = actor.acting_as(Caller::User {
        id,
        role: Role::Developer,
    });

    let mut uow = UnitOfWork::begin(&developer_actor).await?;
    let account = NewAccount {
        id,
        email: &email,
        name: &name,
        password_hash: Some(password_hash),
        role: Role::Developer,
        team: None,
        verified: false,
    };
    let developer = insert_user(&*uow, account, now).await?;
    let metadata = json!({ "email": developer.email, "planCode": plan.code });
    uow.record(
        Change::new("developer.created", "user", developer.id)
            .owner(developer.id)
            .metadata(metadata)
            .publish(Event {
                kind: "developer.created".into(),
                entity_id: developer.id,
                developer_id: Some(developer.id),
                data: json!({ "planCode": plan.code }),
            }),
    )
    .await?;
    let trial_ends_at = start_trial(&mut uow, &developer, &plan).await?;
    let (license, key) = licenses_service::issue_initial(
        &mut uow,
        developer.id,
        &plan,
        entitlements.as_ref(),
        trial_ends_at,
    )
    .await?;
    let session = sessions::open(&mut uow, developer.id, Role::Developer).await?;
    verification::queue_mail(&mut uow, &developer).await?;
    uow.commit().await?;
    Ok(SignupOutcome {
        actor: developer_actor,
        developer,
        license,
        license_key: key.plaintext,
        session,
    })
}

/// Counts an attempt at an account door (login, signup, ...) against the client's IP and, where
/// the door names one, the email; past `AUTH_ATTEMPTS_PER_MINUTE` for either, RATE_LIMITED
/// before any work.
pub(crate) async fn knock(actor: &Actor, door: &str, email: Option<&str>) -> AppResult<()> {
    let ip = actor.meta.ip.iter().map(|ip| format!("{door}:ip:{ip}"));
    let email = email.map(|email| format!("{door}:email:{}", email.trim().to_lowercase()));
    let sources = ip.chain(email).collect();
    actor.app.doors.attempt(sources).await
}

/// Serialises one developer's changes that a plan limit bounds (instances, invitations, a plan
/// change): a no-op UPDATE of its row inside the caller's transaction, a row lock on PostgreSQL
/// and the write lock on SQLite, so a count read after it cannot be overtaken.
pub(crate) async fn lock_developer(conn: &impl ConnectionTrait, developer: Uuid) -> AppResult<()> {
    Users::update_many()
        .col_expr(
            users::Column::UpdatedAt,
            Expr::col(users::Column::UpdatedAt),
        )
        .filter(users::Column::Id.eq(developer))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records the plan's trial, if it has one, and returns when it ends.
async fn start_trial(
    uow: &mut UnitOfWork<'_>,
    developer: &users::Model,
    plan: &plans::Model,
) -> AppResult<Option<DateTime<Utc>>> {
    if plan.trial_days <= 0 {
        return Ok(None);
    }
    let now = uow.actor().now;
    let ends_at = now + Duration::days(i64::from(plan.trial_days));
    let trial = trials::ActiveModel {
        id: Set(Uuid::now_v7()),
        developer_id: Set(developer.id),
        plan_id: Set(plan.id),
        starts_at: Set(now.into()),
        ends_at: Set(ends_at.into()),
        created_at: Set(now.into()),
    }
    .insert(&**uow)
    .await?;
    let metadata = json!({ "planCode": plan.code, "endsAt": ends_at });
    uow.record(
        Change::new("trial.created", "trial", trial.id)
            .owner(developer.id)
            .metadata(metadata),
    )
    .await?;
    Ok(Some(ends_at))
}

/// An account as it is first written.
pub(crate) struct NewAccount<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: Option<String>,
    pub role: Role,
    /// For a member, the developer whose team it joins.
    pub team: Option<Uuid>,
    /// Whether the address is proven already (a member came through its mailed invitation).
    pub verified: bool,
}

/// Writes a new account; an address that has one already is CONFLICT (EMAIL_TAKEN).
pub(crate) async fn insert_user(
    conn: &impl ConnectionTrait,
    account: NewAccount<'_>,
    now: DateTime<Utc>,
) -> AppResult<users::Model> {
    Ok(users::ActiveModel {
        id: Set(account.id),
        email: Set(account.email.to_owned()),
        name: Set(account.name.to_owned()),
        password_hash: Set(account.password_hash),
        role: Set(account.role.as_str().to_owned()),
        email_verified_at: Set(account.verified.then(|| now.into())),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        developer_id: Set(account.team),
    }
    .insert(conn)
    .await?)
}

/// A successful login: the account, its new session's tokens, and the request acting as that
/// account.
pub struct SignedIn {
    pub user: users::Model,
    pub session: Opened,
    pub actor: Actor,
}

/// A new session for the right password; unknown emails and wrong passwords look alike.
#[tracing::instrument(skip_all)]
pub async fn login(actor: &Actor, email: &str, password_attempt: String) -> AppResult<SignedIn> {
    let app = &actor.app;
    knock(actor, "login", Some(email)).await?;
    let user = match input::email(email) {
        Ok(email) => {
            Users::find()
                .filter(users::Column::Email.eq(email))
                .one(&app.db)
                .await?
        }
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = app.passwords.verify(password_attempt, stored).await?;
    let user = user
        .filter(|_| matches)
        .ok_or(AppError::Unauthenticated("wrong email or password"))?;
    let role = Role::from_stored(&user.role)?;
    let signed_in = actor.acting_as(Caller::User { id: user.id, role });
    let mut uow = UnitOfWork::begin(&signed_in).await?;
    let session = sessions::open(&mut uow, user.id, role).await?;
    uow.commit().await?;
    let actor = signed_in.in_session(session.id);
    Ok(SignedIn {
        user,
        session,
        actor,
    })
}

pub async fn me(actor: &Actor) -> AppResult<users::Model> {
    let (id, _) = actor.require_user()?;
    accounts()
        .filter(users::Column::Id.eq(id))
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::Unauthenticated("this account no longer exists"))
}

/// The first admin's one-time credentials, when this start created it.
pub struct BootstrapAdmin {
    pub email: String,
    pub password: String,
}

pub const BOOTSTRAP_ADMIN_EMAIL: &str = "admin@gateway.local";

/// Creates an admin with a random password when the database has none.
pub async fn ensure_admin(actor: &Actor) -> AppResult<Option<BootstrapAdmin>> {
    let has_admin = Users::find()
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .one(&actor.app.db)
        .await?
        .is_some();
    if has_admin {
        return Ok(None);
    }
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    let hash = actor.app.passwords.hash(secret.clone()).await?;
    let mut uow = UnitOfWork::begin(actor).await?;
    let account = NewAccount {
        id: Uuid::now_v7(),
        email: BOOTSTRAP_ADMIN_EMAIL,
        name: "Administrator",
        password_hash: Some(hash),
        role: Role::Admin,
        team: None,
        verified: true,
    };
    let admin = match insert_user(&*uow, account, actor.now).await {
        Ok(admin) => admin,
        // Another gateway process created it first.
        Err(AppError::Conflict { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    uow.record(
        Change::new("admin.bootstrapped", "user", admin.id)
            .metadata(json!({ "email": admin.email })),
    )
    .await?;
    uow.commit().await?;
    Ok(Some(BootstrapAdmin {
        email: admin.email,
        password: secret,
    }))
}

fn developers_matching(filter: &DeveloperFilter) -> Select<Users> {
    let mut condition = Condition::all().add(users::Column::Role.eq(Role::Developer.as_str()));
    if let Some(part) = filter.email_contains.as_deref() {
        condition = condition.add(users::Column::Email.contains(part.trim().to_lowercase()));
    }
    if let Some(after) = filter.created_after {
        condition = condition.add(users::Column::CreatedAt.gte(after));
    }
    if let Some(before) = filter.created_before {
        condition = condition.add(users::Column::CreatedAt.lt(before));
    }
    if let Some(code) = filter.plan_code.as_deref() {
        let on_plan = Query::select()
            .column((licenses::Entity, licenses::Column::DeveloperId))
            .from(licenses::Entity)
            .inner_join(
                plans::Entity,
                Expr::col((plans::Entity, plans::Column::Id))
                    .equals((licenses::Entity, licenses::Column::PlanId)),
            )
            .and_where(
                Expr::col((plans::Entity, plans::Column::Code)).eq(code.trim().to_lowercase()),
            )
            .to_owned();
        condition = condition.add(users::Column::Id.in_subquery(on_plan));
    }
    accounts().filter(condition)
}

/// One page of developers, oldest first (by creation time, which the `createdAfter` and
/// `createdBefore` filters share an index range with), and whether more follow. Admins only.
pub async fn list_developers(
    actor: &Actor,
    filter: &DeveloperFilter,
    page: &PageArgs,
) -> AppResult<Page<users::Model>> {
    actor.require_admin()?;
    let mut query = developers_matching(filter)
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id);
    if let Some((at, id)) = page.after_made() {
        let made = Expr::tuple([
            Expr::col((users::Entity, users::Column::CreatedAt)),
            Expr::col((users::Entity, users::Column::Id)),
        ]);
        query = query.filter(made.gt(Expr::tuple([Expr::val(at), Expr::val(id)])));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count_developers(actor: &Actor, filter: &DeveloperFilter) -> AppResult<Count> {
    actor.require_admin()?;
    total_count::count(&actor.app, developers_matching(filter)).await
}

/// A developer by id. Admins only.
pub async fn developer(actor: &Actor, id: Uuid) -> AppResult<users::Model> {
    actor.require_admin()?;
    accounts()
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::Role.eq(Role::Developer.as_str()))
        .one(&actor.app.db)
        .await?
        .ok_or(AppError::NotFound("developer"))
}
