use super::server::TestApp;
use api::auth::Role;
use chrono::Utc;
use entity::{licenses, plans, prelude::*, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

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

impl TestApp {
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
            tokens.push(
                self.state
                    .jwt
                    .issue(id, Role::Developer, Utc::now())
                    .expect("token")
                    .token,
            );
        }
        tokens
    }
}
