//! The plan catalogue every installation starts with. Seeding is idempotent: existing plans
//! (perhaps edited by an admin) are left as they are.

use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{plan_entitlements, plan_prices, plans, prelude::*};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

struct PlanSeed {
    code: &'static str,
    name: &'static str,
    price_minor: i64,
    trial_days: i32,
    /// (customers, workspaces, ai employees, team members, runtime nodes, seats); None is unlimited.
    limits: [Option<i32>; 6],
    white_label: bool,
    support: &'static str,
    db_type: &'static str,
    storage_gib: Option<i64>,
    daily_api_requests: Option<i64>,
    /// (mail credits, letters, sms credits) a month.
    monthly: [Option<i64>; 3],
    allow_overage: bool,
    sso: bool,
}

const GIB: i64 = 1024 * 1024 * 1024;

/// A runtime node silent for longer than this is dead and frees its slot.
pub const DEFAULT_HEARTBEAT_WINDOW_SECONDS: i32 = 600;

const CATALOGUE: &[PlanSeed] = &[
    PlanSeed {
        code: "free",
        name: "Free",
        price_minor: 0,
        trial_days: 0,
        limits: [Some(1), Some(1), Some(0), Some(1), Some(1), Some(1)],
        white_label: false,
        support: "community",
        db_type: "shared",
        storage_gib: Some(1),
        daily_api_requests: Some(10_000),
        monthly: [Some(100), Some(0), Some(0)],
        allow_overage: false,
        sso: false,
    },
    PlanSeed {
        code: "solo",
        name: "Solo",
        price_minor: 2_900,
        trial_days: 14,
        limits: [Some(5), Some(2), Some(2), Some(1), Some(1), Some(1)],
        white_label: false,
        support: "email",
        db_type: "shared",
        storage_gib: Some(5),
        daily_api_requests: Some(50_000),
        monthly: [Some(1_000), Some(10), Some(0)],
        allow_overage: false,
        sso: false,
    },
    PlanSeed {
        code: "pro",
        name: "Pro",
        price_minor: 4_900,
        trial_days: 14,
        limits: [Some(10), Some(5), Some(5), Some(3), Some(2), Some(3)],
        white_label: false,
        support: "email",
        db_type: "shared",
        storage_gib: Some(10),
        daily_api_requests: Some(100_000),
        monthly: [Some(5_000), Some(50), Some(100)],
        allow_overage: false,
        sso: false,
    },
    PlanSeed {
        code: "small_agency",
        name: "Small Agency",
        price_minor: 9_900,
        trial_days: 14,
        limits: [Some(20), Some(10), Some(10), Some(5), Some(3), Some(5)],
        white_label: true,
        support: "email",
        db_type: "shared",
        storage_gib: Some(25),
        daily_api_requests: Some(250_000),
        monthly: [Some(20_000), Some(200), Some(500)],
        allow_overage: false,
        sso: false,
    },
    PlanSeed {
        code: "agency_pro",
        name: "Agency Pro",
        price_minor: 24_900,
        trial_days: 14,
        limits: [Some(50), Some(50), Some(50), Some(20), Some(10), Some(20)],
        white_label: true,
        support: "priority",
        db_type: "dedicated",
        storage_gib: Some(100),
        daily_api_requests: Some(1_000_000),
        monthly: [Some(100_000), Some(1_000), Some(2_000)],
        allow_overage: true,
        sso: true,
    },
    PlanSeed {
        code: "enterprise",
        name: "Enterprise",
        price_minor: 99_900,
        trial_days: 30,
        limits: [None; 6],
        white_label: true,
        support: "dedicated",
        db_type: "dedicated",
        storage_gib: None,
        daily_api_requests: None,
        monthly: [None, None, None],
        allow_overage: true,
        sso: true,
    },
];

/// Inserts the catalogue's plans that are missing; returns how many were added.
pub async fn seed_plans(
    db: &(impl ConnectionTrait + TransactionTrait),
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let txn = db.begin().await?;
    let mut added = 0;
    for seed in CATALOGUE {
        let exists = Plans::find()
            .filter(plans::Column::Code.eq(seed.code))
            .one(&txn)
            .await?
            .is_some();
        if exists {
            continue;
        }
        let id = Uuid::now_v7();
        plans::ActiveModel {
            id: Set(id),
            code: Set(seed.code.to_owned()),
            name: Set(seed.name.to_owned()),
            price_minor: Set(seed.price_minor),
            currency: Set("USD".to_owned()),
            billing_interval: Set("month".to_owned()),
            trial_days: Set(seed.trial_days),
            active: Set(true),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
            version: Set(1),
            latest: Set(true),
            retired_at: Set(None),
        }
        .insert(&txn)
        .await?;
        plan_prices::ActiveModel {
            id: Set(Uuid::now_v7()),
            plan_id: Set(id),
            interval: Set("month".to_owned()),
            amount_minor: Set(seed.price_minor),
            currency: Set("USD".to_owned()),
            provider_price_id: Set(None),
            created_at: Set(now.into()),
        }
        .insert(&txn)
        .await?;
        let [customers, workspaces, ai, team, nodes, seats] = seed.limits;
        plan_entitlements::ActiveModel {
            plan_id: Set(id),
            max_customers: Set(customers),
            max_workspaces: Set(workspaces),
            max_ai_employees: Set(ai),
            max_team_members: Set(team),
            max_runtime_nodes: Set(nodes),
            max_seats: Set(seats),
            white_label_basic: Set(seed.white_label),
            support_level: Set(seed.support.to_owned()),
            db_type: Set(seed.db_type.to_owned()),
            storage_quota_bytes: Set(seed.storage_gib.map(|g| g * GIB)),
            daily_api_requests: Set(seed.daily_api_requests),
            features: Set(json!({
                "api_access": true,
                "custom_domain": seed.white_label,
                "sso": seed.sso,
                "audit_log_export": seed.sso,
            })),
            heartbeat_window_seconds: Set(DEFAULT_HEARTBEAT_WINDOW_SECONDS),
            monthly_mail_credits: Set(seed.monthly[0]),
            monthly_letters: Set(seed.monthly[1]),
            monthly_sms_credits: Set(seed.monthly[2]),
            allow_overage: Set(seed.allow_overage),
        }
        .insert(&txn)
        .await?;
        added += 1;
    }
    txn.commit().await?;
    Ok(added)
}
