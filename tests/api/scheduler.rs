//! The scheduler moves licenses when nobody calls: a trial ends into grace, grace ends into
//! expiry, each step audited and published, walked through on the test clock; two gateways on
//! one database move each license once; the test clock is for admins of sandboxes only.

use crate::helpers::{
    Rows, Subscription, TestApp, error_code, spawn_app_with, spawn_gateway_process,
};
use api::domain::scheduler::jobs::JobName;
use chrono::{Duration as Span, Utc};
use entity::{audit_events, licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

const ADVANCE: &str =
    "mutation($s: Int!) { advanceTestClock(seconds: $s) { now ran { job rows error } } }";

const DAY: i64 = 24 * 3600;

async fn state(app: &TestApp, token: &str, license: Uuid) -> Value {
    let body = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { state graceEndsAt } }",
            json!({ "id": license }),
            Some(token),
        )
        .await;
    body["data"]["license"]["state"].clone()
}

/// Rows each job moved in an `advanceTestClock` answer.
fn moved(answer: &Value, job: &str) -> Option<i64> {
    answer["data"]["advanceTestClock"]["ran"]
        .as_array()?
        .iter()
        .find(|run| run["job"] == job)?["rows"]
        .as_i64()
}

#[tokio::test]
async fn an_unpaid_trial_ends_in_grace_and_then_expires_on_the_test_clock() {
    let app = spawn_app_with(&[("TEST_CLOCK", "true")]).await;
    let admin = app.admin_token().await;
    let developer = app.developer("trial@example.com", "pro").await; // a 14-day trial
    let mut events = Subscription::open(
        &app.ws_url(),
        Some(&developer.token),
        "subscription { licenseEvents { type licenseId } }",
    )
    .await;
    assert_eq!(app.validation_code(&developer.license_key).await, "VALID");

    let day_13 = app
        .graphql(ADVANCE, json!({ "s": 13 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&day_13, "LICENSE_TRIALS"), Some(0), "{day_13}");
    assert_eq!(
        state(&app, &developer.token, developer.license_id).await,
        "TRIALING"
    );

    let day_15 = app
        .graphql(ADVANCE, json!({ "s": 2 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&day_15, "LICENSE_TRIALS"), Some(1), "{day_15}");
    assert_eq!(
        state(&app, &developer.token, developer.license_id).await,
        "GRACE"
    );
    // In grace the software keeps working.
    assert_eq!(app.validation_code(&developer.license_key).await, "VALID");
    // The expiring window was announced on day 13, the move to grace on day 15.
    assert_eq!(
        pushed_types(&mut events).await,
        ["license.expiring", "license.state_changed"]
    );

    let day_23 = app
        .graphql(ADVANCE, json!({ "s": 8 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&day_23, "LICENSE_GRACE"), Some(1), "{day_23}");
    assert_eq!(
        state(&app, &developer.token, developer.license_id).await,
        "EXPIRED"
    );
    assert_eq!(app.validation_code(&developer.license_key).await, "EXPIRED");

    // Each step is in the trail, by the platform, naming the rule that moved it.
    let trail = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(developer.license_id))
        .filter(audit_events::Column::EventType.eq("license.state_changed"))
        .all(&app.state.db)
        .await
        .expect("trail");
    let rules: Vec<(String, String)> = trail
        .iter()
        .map(|e| {
            let meta = &e.metadata;
            (
                meta["rule"].as_str().unwrap_or("").to_owned(),
                e.actor_type.clone(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("trial_ended".to_owned(), "system".to_owned()),
            ("grace_ended".to_owned(), "system".to_owned())
        ]
    );
    // A second run finds nothing left to do.
    let again = app.graphql(ADVANCE, json!({ "s": 60 }), Some(&admin)).await;
    assert_eq!(moved(&again, "LICENSE_GRACE"), Some(0), "{again}");
    let jobs = app
        .graphql(
            "{ schedulerJobs { name runs lastRows lastError running } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let listed = jobs["data"]["schedulerJobs"].as_array().expect("jobs");
    assert_eq!(listed.len(), JobName::ALL.len(), "{jobs}");
    assert!(
        listed
            .iter()
            .all(|j| j["runs"].as_i64() >= Some(4) && j["lastError"].is_null()),
        "{jobs}"
    );
}

#[tokio::test]
async fn the_test_clock_is_for_admins_where_it_is_enabled() {
    let off = spawn_app_with(&[]).await;
    let admin = off.admin_token().await;
    let refused = off.graphql(ADVANCE, json!({ "s": 60 }), Some(&admin)).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");

    let on = spawn_app_with(&[("TEST_CLOCK", "true")]).await;
    let developer = on.developer("dev@example.com", "solo").await;
    let not_admin = on
        .graphql(ADVANCE, json!({ "s": 60 }), Some(&developer.token))
        .await;
    assert_eq!(error_code(&not_admin), Some("FORBIDDEN"), "{not_admin}");
    let admin = on.admin_token().await;
    for seconds in [0, -5, 400_000_000] {
        let bad = on
            .graphql(ADVANCE, json!({ "s": seconds }), Some(&admin))
            .await;
        assert_eq!(bad["errors"][0]["extensions"]["field"], "seconds", "{bad}");
    }
    let jobs = on
        .graphql(
            "{ schedulerJobs { name } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(error_code(&jobs), Some("FORBIDDEN"), "{jobs}");
}

#[tokio::test]
async fn two_gateways_on_one_database_move_each_license_once() {
    let app = spawn_app_with(&[]).await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    let ended = Utc::now() - Span::hours(1);
    let mut ids = Vec::new();
    for n in 0..60 {
        let developer = Rows::developer(db, &format!("owner{n:02}@example.com")).await;
        let license = rows
            .license_for(db, developer, rows.plan_ids[0], 1, 0)
            .await
            .expect("license");
        ids.push(license.id);
    }
    Licenses::update_many()
        .col_expr(licenses::Column::State, Expr::value("trialing"))
        .col_expr(
            licenses::Column::PaymentState,
            Expr::value("not_required_for_trial"),
        )
        .col_expr(licenses::Column::TrialEndsAt, Expr::value(ended))
        .col_expr(licenses::Column::ExpiresAt, Expr::value(ended))
        .filter(licenses::Column::Id.is_in(ids.clone()))
        .exec(db)
        .await
        .expect("trials ended");

    let settings = [("SCHEDULER_TICK_SECONDS", "1"), ("MAIL_POLL_SECONDS", "0")];
    let _a = spawn_gateway_process(&app.database_url, &settings).await;
    let _b = spawn_gateway_process(&app.database_url, &settings).await;
    let trialing = || {
        Licenses::find()
            .filter(licenses::Column::Id.is_in(ids.clone()))
            .filter(licenses::Column::State.eq("trialing"))
            .count(db)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while trialing().await.expect("count") > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the trials were not ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both have had further turns since: nothing moves twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let moves = AuditEvents::find()
        .filter(audit_events::Column::EntityId.is_in(ids.clone()))
        .filter(audit_events::Column::EventType.eq("license.state_changed"))
        .all(db)
        .await
        .expect("trail");
    assert_eq!(moves.len(), ids.len(), "each license moved exactly once");
    let in_grace = Licenses::find()
        .filter(licenses::Column::Id.is_in(ids))
        .filter(licenses::Column::State.eq("grace"))
        .count(db)
        .await
        .expect("count");
    assert_eq!(in_grace, 60);
}

#[tokio::test]
async fn instance_logs_past_their_retention_are_pruned() {
    let app = spawn_app_with(&[
        ("TEST_CLOCK", "true"),
        ("RETENTION_INSTANCE_LOG_DAYS", "30"),
        // Only the instance logs' retention is watched here.
        ("EVENT_LOG_RETENTION_DAYS", "365"),
    ])
    .await;
    let admin = app.admin_token().await;
    let (developer, instance) = app.developer_with_instance("logs@example.com", "pro").await;
    let created = app
        .graphql(
            r#"mutation($i: UUID!) { createInstanceToken(instanceId: $i, name: "c") { token } }"#,
            json!({ "i": instance }),
            Some(&developer.token),
        )
        .await;
    let token = created["data"]["createInstanceToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("token: {created}"))
        .to_owned();
    let append = "mutation($e: [InstanceLogInput!]!) { appendInstanceLogs(entries: $e) }";
    let entries =
        json!([{ "level": "INFO", "message": "one" }, { "level": "WARN", "message": "two" }]);
    let appended = app
        .graphql(append, json!({ "e": entries }), Some(&token))
        .await;
    assert_eq!(appended["data"]["appendInstanceLogs"], 2, "{appended}");
    let logs = || async {
        InstanceLogs::find()
            .count(&app.state.db)
            .await
            .expect("count")
    };

    let day_29 = app
        .graphql(ADVANCE, json!({ "s": 29 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&day_29, "RETENTION"), Some(0), "{day_29}");
    assert_eq!(logs().await, 2);
    let day_31 = app
        .graphql(ADVANCE, json!({ "s": 2 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&day_31, "RETENTION"), Some(2), "{day_31}");
    assert_eq!(logs().await, 0);
}

const NODE_EVENTS: &str = "subscription { licenseEvents { type licenseId } }";

/// The types of the events a subscription receives within a few seconds.
async fn pushed_types(events: &mut Subscription) -> Vec<String> {
    let mut types = Vec::new();
    while let Some(message) = events.next_message(Duration::from_secs(2)).await {
        types.push(
            message["payload"]["data"]["licenseEvents"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    types
}

#[tokio::test]
async fn a_silent_node_is_announced_dead_once_comes_back_and_is_culled_after_the_window() {
    let app = spawn_app_with(&[
        ("TEST_CLOCK", "true"),
        ("NODE_RESURRECTION_SECONDS", "3600"),
    ])
    .await;
    let admin = app.admin_token().await;
    let developer = app.developer("nodes@example.com", "pro").await;
    let node = app.node(&developer.license_key, "fp-silent").await;
    let mut events = Subscription::open(&app.ws_url(), Some(&developer.token), NODE_EVENTS).await;
    let window = api::domain::plans::seed::DEFAULT_HEARTBEAT_WINDOW_SECONDS;

    let late = app
        .graphql(ADVANCE, json!({ "s": window + 60 }), Some(&admin))
        .await;
    assert_eq!(moved(&late, "RUNTIME_NODES"), Some(1), "{late}");
    let again = app.graphql(ADVANCE, json!({ "s": 60 }), Some(&admin)).await;
    assert_eq!(
        moved(&again, "RUNTIME_NODES"),
        Some(0),
        "announced once: {again}"
    );
    assert_eq!(pushed_types(&mut events).await, ["license.node_dead"]);

    // It checks in within the window: alive again, and a later silence is announced again.
    let back = app.activate_node(&developer.license_key, "fp-silent").await;
    assert_eq!(back["data"]["activateRuntimeNode"]["id"], node, "{back}");
    assert_eq!(back["data"]["activateRuntimeNode"]["alive"], true, "{back}");
    let late = app
        .graphql(ADVANCE, json!({ "s": window + 60 }), Some(&admin))
        .await;
    assert_eq!(moved(&late, "RUNTIME_NODES"), Some(1), "{late}");
    let culled = app
        .graphql(ADVANCE, json!({ "s": 3600 }), Some(&admin))
        .await;
    assert_eq!(moved(&culled, "RUNTIME_NODES"), Some(1), "{culled}");
    let nodes = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { runtimeNodes { status } } }",
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        nodes["data"]["license"]["runtimeNodes"],
        json!([]),
        "{nodes}"
    );
    let kinds: Vec<String> = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(Uuid::parse_str(&node).expect("id")))
        .all(&app.state.db)
        .await
        .expect("trail")
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            "node.activated",
            "node.dead",
            "node.resurrected",
            "node.dead",
            "node.culled"
        ]
    );
}

#[tokio::test]
async fn a_license_entering_its_expiring_window_is_announced_once() {
    let app = spawn_app_with(&[("TEST_CLOCK", "true"), ("LICENSE_EXPIRING_DAYS", "7")]).await;
    let admin = app.admin_token().await;
    let developer = app.developer("soon@example.com", "pro").await; // trial ends in 14 days
    let early = app
        .graphql(ADVANCE, json!({ "s": 6 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&early, "LICENSE_EXPIRING"), Some(0), "{early}");
    let within = app
        .graphql(ADVANCE, json!({ "s": 2 * DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&within, "LICENSE_EXPIRING"), Some(1), "{within}");
    let again = app
        .graphql(ADVANCE, json!({ "s": DAY }), Some(&admin))
        .await;
    assert_eq!(moved(&again, "LICENSE_EXPIRING"), Some(0), "once: {again}");
    let trail = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(developer.license_id))
        .filter(audit_events::Column::EventType.eq("license.expiring"))
        .all(&app.state.db)
        .await
        .expect("trail");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].metadata["daysLeft"], 5);
}
