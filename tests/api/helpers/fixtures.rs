use super::server::TestApp;
use api::auth::opaque_token::INVITATION;
use api::auth::{Actor, Caller, Role};
use api::domain::sessions::service as sessions;
use api::events::UnitOfWork;
use chrono::Utc;
use entity::{invitations, licenses, plans, prelude::*, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// A developer signed up on a plan, with the trial license that came with it.
pub struct Developer {
    pub id: Uuid,
    pub token: String,
    pub license_id: Uuid,
    pub license_key: String,
}

const ACTIVATE: &str = r#"mutation($key: String!, $fp: String!) {
    activateRuntimeNode(licenseKey: $key, fingerprint: $fp, appUrl: "https://app.example.com", version: "1.0.0", name: "edge") {
        id fingerprint status alive heartbeatDeadlineAt
    }
}"#;

const OVERRIDE: &str = r#"mutation($d: UUID!, $k: String!, $v: JSON) {
    setEntitlementOverride(developerId: $d, key: $k, value: $v) { key limit source }
}"#;

/// A team member that joined through an invitation, signed in.
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

const INVITE: &str = r#"mutation($e: String!) { inviteMember(email: $e) { id } }"#;

const ACCEPT: &str = r#"mutation($t: String!) {
    acceptInvitation(token: $t, name: "Team Member", password: "member-password-1") { accessToken user { id } }
}"#;

impl TestApp {
    /// Signs `email` up on `plan`, its address verified (as following the mailed link would;
    /// `mail` tests follow the link itself).
    pub async fn developer(&self, email: &str, plan: &str) -> Developer {
        let developer = self.unverified_developer(email, plan).await;
        self.mark_verified(developer.id).await;
        developer
    }

    /// Marks an account's address verified, as following its mailed link would.
    pub async fn mark_verified(&self, user: Uuid) {
        Users::update_many()
            .col_expr(
                users::Column::EmailVerifiedAt,
                sea_orm::sea_query::Expr::value(Utc::now().fixed_offset()),
            )
            .filter(users::Column::Id.eq(user))
            .exec(&self.state.db)
            .await
            .expect("verify");
    }

    /// Signs `email` up on `plan`, without following the verification link.
    pub async fn unverified_developer(&self, email: &str, plan: &str) -> Developer {
        let out = self.signup(email, plan).await;
        let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("in {out}")).to_owned();
        let id = |v: &Value| Uuid::parse_str(&text(v)).expect("uuid");
        Developer {
            id: id(&out["developer"]["id"]),
            token: text(&out["accessToken"]),
            license_id: id(&out["license"]["id"]),
            license_key: text(&out["licenseKey"]),
        }
    }

    /// A database pool in `region` with the default room, made by the admin. Answers its id.
    pub async fn pool(&self, host: &str, region: &str) -> String {
        let admin = self.admin_token().await;
        let body = self
            .graphql(
                "mutation($h: String!, $r: String!) { createDatabasePool(host: $h, region: $r) { id } }",
                json!({ "h": host, "r": region }),
                Some(&admin),
            )
            .await;
        body["data"]["createDatabasePool"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("pool created: {body}"))
            .to_owned()
    }

    /// An instance named "Shop" for the developer holding `token`. Answers its id.
    pub async fn instance(&self, token: &str, subdomain: &str, region: &str) -> String {
        let body = self
            .graphql(
                r#"mutation($s: String!, $r: String!) { createInstance(name: "Shop", subdomain: $s, region: $r) { id } }"#,
                json!({ "s": subdomain, "r": region }),
                Some(token),
            )
            .await;
        body["data"]["createInstance"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("instance created: {body}"))
            .to_owned()
    }

    /// A developer on `plan` with one instance in `eu`, placed in a pool of its own. Answers
    /// the developer and the instance's id.
    pub async fn developer_with_instance(&self, email: &str, plan: &str) -> (Developer, String) {
        let developer = self.developer(email, plan).await;
        let unique = developer.id.to_string()[24..].to_owned();
        self.pool(&format!("db-{unique}.internal"), "eu").await;
        let instance = self
            .instance(&developer.token, &format!("shop-{unique}"), "eu")
            .await;
        (developer, instance)
    }

    /// Asks to activate a runtime node (version 1.0.0) for a license key; answers the reply.
    pub async fn activate_node(&self, license_key: &str, fingerprint: &str) -> Value {
        self.graphql(
            ACTIVATE,
            json!({ "key": license_key, "fp": fingerprint }),
            None,
        )
        .await
    }

    /// What `validateLicense` answers for a key: its `code`.
    pub async fn validation_code(&self, key: &str) -> Value {
        let body = self
            .graphql(
                "query($k: String!) { validateLicense(key: $k) { code } }",
                json!({ "k": key }),
                None,
            )
            .await;
        body["data"]["validateLicense"]["code"].clone()
    }

    /// An active runtime node for a license key. Answers its id.
    pub async fn node(&self, license_key: &str, fingerprint: &str) -> String {
        let body = self.activate_node(license_key, fingerprint).await;
        body["data"]["activateRuntimeNode"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("node activated: {body}"))
            .to_owned()
    }

    /// Overrides one of a developer's entitlements, as the admin.
    pub async fn set_override(&self, developer: Uuid, key: &str, value: Value) {
        let admin = self.admin_token().await;
        let body = self
            .graphql(
                OVERRIDE,
                json!({ "d": developer, "k": key, "v": value }),
                Some(&admin),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }

    /// A member of `developer`'s team, joined the way a person does: invited by the
    /// developer, then accepting with the invitation's token. The mailed token is not read
    /// back from the outbox: the fixture gives the invitation a token of its own, stored the
    /// same way, and accepts with that (`mail` tests follow the mailed link itself).
    pub async fn team_member(&self, developer: &Developer, email: &str) -> Member {
        let invited = self
            .graphql(INVITE, json!({ "e": email }), Some(&developer.token))
            .await;
        let id = invited["data"]["inviteMember"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("invited: {invited}"));
        let token = INVITATION.generate(&self.state.config.auth.license_key_secret);
        Invitations::update_many()
            .col_expr(
                invitations::Column::TokenHash,
                sea_orm::sea_query::Expr::value(token.digest),
            )
            .filter(invitations::Column::Id.eq(Uuid::parse_str(id).expect("uuid")))
            .exec(&self.state.db)
            .await
            .expect("token");
        let joined = self
            .graphql(ACCEPT, json!({ "t": token.plaintext }), None)
            .await;
        let answer = &joined["data"]["acceptInvitation"];
        let text = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("accepted: {joined}"))
                .to_owned()
        };
        Member {
            id: Uuid::parse_str(&text(&answer["user"]["id"])).expect("uuid"),
            email: email.to_owned(),
            token: text(&answer["accessToken"]),
        }
    }

    /// An access token in a new session of the account, opened as a sign-in opens one.
    async fn session_token(&self, user: Uuid, role: Role) -> String {
        let actor = Actor::system(&self.state).acting_as(Caller::User { id: user, role });
        let mut uow = UnitOfWork::begin(&actor).await.expect("begin");
        let session = sessions::open(&mut uow, user, role).await.expect("session");
        uow.commit().await.expect("commit");
        session.access.token
    }

    /// `count` developers on the plan `plan_code`, each with a license and a token, made
    /// straight in the database for volume. Answers their tokens.
    pub async fn developers_on(&self, plan_code: &str, count: usize) -> Vec<String> {
        let db = &self.state.db;
        let rows = Rows::new(db).await;
        let plan = Plans::find()
            .filter(plans::Column::Code.eq(plan_code))
            .one(db)
            .await
            .expect("q")
            .expect("plan");
        let mut tokens = Vec::new();
        for n in 0..count {
            let id = Rows::developer(db, &format!("tenant{n:03}-{plan_code}@example.com")).await;
            rows.license_for(db, id, plan.id, 1, 0)
                .await
                .expect("license");
            tokens.push(self.session_token(id, Role::Developer).await);
        }
        tokens
    }
}

/// Rows written straight to the database, for tests that need volume, not a signup flow.
pub struct Rows {
    pub plan_ids: Vec<Uuid>,
    pub developer_id: Uuid,
}

impl Rows {
    /// Needs migrated tables; creates the plans it needs when the database has none.
    pub async fn new(conn: &impl ConnectionTrait) -> Self {
        let mut plan_ids: Vec<Uuid> = Plans::find()
            .all(conn)
            .await
            .expect("plans")
            .iter()
            .map(|p| p.id)
            .collect();
        if plan_ids.is_empty() {
            let now = Utc::now();
            let plan = plans::ActiveModel {
                id: Set(Uuid::now_v7()),
                code: Set("fixture".into()),
                name: Set("Fixture".into()),
                price_minor: Set(100),
                currency: Set("USD".into()),
                billing_interval: Set("month".into()),
                trial_days: Set(0),
                active: Set(true),
                created_at: Set(now.into()),
                updated_at: Set(now.into()),
                version: Set(1),
                latest: Set(true),
                retired_at: Set(None),
            }
            .insert(conn)
            .await
            .expect("plan");
            plan_ids.push(plan.id);
        }
        let developer_id = Self::developer(
            conn,
            &format!("fixture-{}@example.com", Uuid::new_v4().simple()),
        )
        .await;
        Self {
            plan_ids,
            developer_id,
        }
    }

    pub async fn developer(conn: &impl ConnectionTrait, email: &str) -> Uuid {
        let now = Utc::now();
        users::ActiveModel {
            id: Set(Uuid::now_v7()),
            email: Set(email.to_owned()),
            name: Set("Fixture".into()),
            password_hash: Set(None),
            role: Set("developer".into()),
            email_verified_at: Set(None),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
            developer_id: Set(None),
        }
        .insert(conn)
        .await
        .expect("developer")
        .id
    }

    pub async fn license(
        &self,
        conn: &impl ConnectionTrait,
        seats_total: i32,
        seats_used: i32,
    ) -> Result<licenses::Model, DbErr> {
        self.license_for(
            conn,
            self.developer_id,
            self.plan_ids[0],
            seats_total,
            seats_used,
        )
        .await
    }

    /// A seat on `license` held by `holder`, made straight in the database.
    pub async fn seat(conn: &impl ConnectionTrait, license: Uuid, holder: Uuid) {
        let now = Utc::now();
        entity::license_assignments::ActiveModel {
            id: Set(Uuid::now_v7()),
            license_id: Set(license),
            user_id: Set(Some(holder)),
            invitation_id: Set(None),
            status: Set("active".into()),
            assigned_at: Set(now.into()),
            released_at: Set(None),
            assigned_by: Set(None),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
        }
        .insert(conn)
        .await
        .expect("assignment");
    }

    pub async fn license_for(
        &self,
        conn: &impl ConnectionTrait,
        developer_id: Uuid,
        plan_id: Uuid,
        seats_total: i32,
        seats_used: i32,
    ) -> Result<licenses::Model, DbErr> {
        let now = Utc::now();
        licenses::ActiveModel {
            id: Set(Uuid::now_v7()),
            developer_id: Set(developer_id),
            plan_id: Set(plan_id),
            key_hash: Set(Uuid::new_v4().simple().to_string()),
            key_prefix: Set("FIXTR".into()),
            product: Set("core".into()),
            term: Set("monthly".into()),
            state: Set("active".into()),
            payment_state: Set("active".into()),
            seats_total: Set(seats_total),
            seats_used: Set(seats_used),
            starts_at: Set(now.into()),
            expires_at: Set(None),
            trial_ends_at: Set(None),
            grace_ends_at: Set(None),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
            created_by: Set(None),
            updated_by: Set(None),
            ..Default::default()
        }
        .insert(conn)
        .await
    }
}
