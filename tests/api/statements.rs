use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use chrono::Utc;
use entity::{licenses, plans, prelude::*, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Rows written straight to the database, for tests that need volume, not a signup flow.
pub struct Fixture {
    pub plan_ids: Vec<Uuid>,
    pub developer_id: Uuid,
}

impl Fixture {
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

/// A server whose dataloaders wait long enough to gather a whole level even while the rest of
/// the suite loads the machine: a batch split by a slow poll would count as an extra statement.
pub async fn spawn_patient_app() -> TestApp {
    spawn_app_with(&[("DATALOADER_DELAY_MICROS", "20000")]).await
}

#[tokio::test]
async fn nested_developers_licenses_plans_cost_one_statement_per_level() {
    let app = spawn_patient_app().await;
    let db = &app.state.db;
    let fixture = Fixture::new(db).await;
    for n in 0..50 {
        let developer = Fixture::developer(db, &format!("bulk{n:02}@example.com")).await;
        for k in 0..3 {
            let plan = fixture.plan_ids[(n + k) % fixture.plan_ids.len()];
            fixture
                .license_for(db, developer, plan, 5, 0)
                .await
                .expect("license");
        }
    }
    let admin = app.admin_token().await;
    let query = "{ developers(first: 50, filter: { emailContains: \"bulk\" }) { edges { node { email licenses { plan { code } } } } } }";

    let before = app.statements.get();
    let body = app.graphql(query, json!({}), Some(&admin)).await;
    let spent = app.statements.get() - before;

    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len(), 50, "{body}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["licenses"].as_array().map(Vec::len) == Some(3))
    );
    assert!(spent <= 4, "{spent} SQL statements for a three-level query");

    // The loader really batches: one developer's licenses match what the database holds.
    let first = Users::find()
        .filter(users::Column::Email.eq("bulk00@example.com"))
        .one(db)
        .await
        .expect("query")
        .expect("row");
    let stored = Licenses::find()
        .filter(licenses::Column::DeveloperId.eq(first.id))
        .all(db)
        .await
        .expect("licenses");
    assert_eq!(stored.len(), 3);
}

#[tokio::test]
async fn validating_a_license_is_one_statement() {
    let app = spawn_app().await;
    let out = app.signup("hot@example.com", "pro").await;
    let key = out["licenseKey"].as_str().expect("key");
    app.graphql(
        "mutation($k: String!) { activateRuntimeNode(licenseKey: $k, fingerprint: \"fp\") { id } }",
        json!({ "k": key }),
        None,
    )
    .await;
    let query = "query($k: String!) { validateLicense(key: $k, fingerprint: \"fp\", product: \"core\") { valid code license { state expiresAt } } }";
    let before = app.statements.get();
    let body = app.graphql(query, json!({ "k": key }), None).await;
    let spent = app.statements.get() - before;
    assert_eq!(body["data"]["validateLicense"]["code"], "VALID", "{body}");
    assert_eq!(spent, 1, "one indexed lookup answers a validation");
}

async fn licenses_query_cost(count: usize) -> u64 {
    let app = spawn_patient_app().await;
    let db = &app.state.db;
    let fixture = Fixture::new(db).await;
    for n in 0..count {
        let developer = Fixture::developer(db, &format!("owner{n:03}@example.com")).await;
        let license = fixture
            .license_for(
                db,
                developer,
                fixture.plan_ids[n % fixture.plan_ids.len()],
                5,
                0,
            )
            .await
            .expect("license");
        let member = Fixture::developer(db, &format!("member{n:03}@example.com")).await;
        entity::license_assignments::ActiveModel {
            id: Set(Uuid::now_v7()),
            license_id: Set(license.id),
            user_id: Set(member),
            status: Set("active".into()),
            assigned_at: Set(Utc::now().into()),
            released_at: Set(None),
            assigned_by: Set(None),
            created_at: Set(Utc::now().into()),
            updated_at: Set(Utc::now().into()),
        }
        .insert(db)
        .await
        .expect("assignment");
        entity::runtime_nodes::ActiveModel {
            id: Set(Uuid::now_v7()),
            license_id: Set(license.id),
            fingerprint: Set(format!("fp-{n}")),
            status: Set("active".into()),
            last_check_in_at: Set(Utc::now().into()),
            heartbeat_deadline_at: Set(Utc::now().into()),
            activated_at: Set(Utc::now().into()),
            created_at: Set(Utc::now().into()),
            updated_at: Set(Utc::now().into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("node");
    }
    let admin = app.admin_token().await;
    let query = "{ licenses(first: 50) { edges { node { runtimeNodes { id } assignments { user { email } } plan { code } developer { email } } } } }";
    let before = app.statements.get();
    let body = app.graphql(query, json!({}), Some(&admin)).await;
    let spent = app.statements.get() - before;
    let edges = body["data"]["licenses"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), count.min(50), "{body}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["assignments"][0]["user"]["email"].is_string())
    );
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["runtimeNodes"].as_array().map(Vec::len) == Some(1))
    );
    spent
}

#[tokio::test]
async fn nested_licenses_query_costs_the_same_for_five_or_fifty() {
    let few = licenses_query_cost(5).await;
    let many = licenses_query_cost(50).await;
    assert_eq!(few, many, "statement count must not grow with rows");
    assert!(many <= 6, "{many} statements: one per relation level");
}
