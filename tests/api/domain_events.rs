//! A subscription per domain: each delivers its domain's events to those its query would show
//! them to, and to nobody else.

use crate::helpers::{Subscription, TestApp, error_code, spawn_app, subscription_error};
use entity::{prelude::*, runtime_nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

const FIELDS: &str = "cursor type entityId developerId data";

fn subscription(field: &str, arguments: &str) -> String {
    format!("subscription {{ {field}{arguments} {{ {FIELDS} }} }}")
}

async fn open(app: &TestApp, token: &str, field: &str, arguments: &str) -> Subscription {
    Subscription::open(&app.ws_url(), Some(token), &subscription(field, arguments)).await
}

/// The types of what arrives until it has been quiet a moment.
async fn received(subscription: &mut Subscription, field: &str) -> Vec<String> {
    let mut types = Vec::new();
    while let Some(message) = subscription.next_message(Duration::from_millis(700)).await {
        let event = &message["payload"]["data"][field];
        match event["type"].as_str() {
            Some(kind) => types.push(kind.to_owned()),
            None => types.push(format!("error: {message}")),
        }
    }
    types
}

async fn first_error(subscription: &mut Subscription) -> Value {
    let message = subscription
        .next_message(Duration::from_secs(5))
        .await
        .expect("an answer");
    subscription_error(&message)["code"].clone()
}

#[tokio::test]
async fn instance_events_reach_their_developer_and_admins_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let owner = app.developer("owner@example.com", "solo").await;
    let other = app.developer("other@example.com", "solo").await;
    let mut as_owner = open(&app, &owner.token, "instanceEvents", "").await;
    let mut as_other = open(&app, &other.token, "instanceEvents", "").await;
    let mut as_admin = open(&app, &admin, "instanceEvents", "").await;
    let created = app
        .graphql(
            r#"mutation { createInstance(name: "Shop", subdomain: "events-shop", region: "zz") { id status } }"#,
            json!({}),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        created["data"]["createInstance"]["status"], "waiting_for_capacity",
        "{created}"
    );
    assert_eq!(
        received(&mut as_owner, "instanceEvents").await,
        ["instance.created"]
    );
    assert_eq!(
        received(&mut as_admin, "instanceEvents").await,
        ["instance.created"]
    );
    assert!(received(&mut as_other, "instanceEvents").await.is_empty());
}

#[tokio::test]
async fn runtime_node_and_assignment_events_follow_the_license() {
    let app = spawn_app().await;
    let owner = app.developer("nodes@example.com", "pro").await;
    let other = app.developer("stranger@example.com", "pro").await;
    let filter = format!("(licenseId: \"{}\")", owner.license_id);
    let mut nodes = open(&app, &owner.token, "runtimeNodeEvents", &filter).await;
    let mut seats = open(&app, &owner.token, "assignmentEvents", &filter).await;
    let mut stranger = open(&app, &other.token, "runtimeNodeEvents", "").await;
    app.activate_node(&owner.license_key, "fp-events").await;
    let assigned = app
        .graphql(
            "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"nodes@example.com\") { status } }",
            json!({ "l": owner.license_id }),
            Some(&owner.token),
        )
        .await;
    assert!(assigned["errors"].is_null(), "{assigned}");
    assert_eq!(
        received(&mut nodes, "runtimeNodeEvents").await,
        ["license.node_activated"]
    );
    assert_eq!(
        received(&mut seats, "assignmentEvents").await,
        ["license.seat_assigned"]
    );
    assert!(
        received(&mut stranger, "runtimeNodeEvents")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn developer_and_pool_events_are_for_admins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("watcher@example.com", "solo").await;
    let mut refused = open(&app, &developer.token, "developerEvents", "").await;
    assert_eq!(first_error(&mut refused).await, "FORBIDDEN");
    let mut refused_pools = open(&app, &developer.token, "poolEvents", "").await;
    assert_eq!(first_error(&mut refused_pools).await, "FORBIDDEN");

    let mut developers = open(&app, &admin, "developerEvents", "").await;
    let mut pools = open(&app, &admin, "poolEvents", "").await;
    let newcomer = app.developer("newcomer@example.com", "solo").await;
    app.graphql(
        r#"mutation { createInstance(name: "Shop", subdomain: "no-room", region: "nowhere") { id } }"#,
        json!({}),
        Some(&newcomer.token),
    )
    .await;
    assert_eq!(
        received(&mut developers, "developerEvents").await,
        ["developer.created"]
    );
    assert_eq!(
        received(&mut pools, "poolEvents").await,
        ["pool.capacity_exhausted"]
    );
    let anonymous = app.graphql("{ plans { code } }", json!({}), None).await;
    assert!(error_code(&anonymous).is_none());
}

/// Moves the license's nodes' heartbeat deadline to `by` from now.
async fn move_deadline(app: &TestApp, license_id: Uuid, by: chrono::Duration) {
    RuntimeNodes::update_many()
        .col_expr(
            runtime_nodes::Column::HeartbeatDeadlineAt,
            Expr::value((chrono::Utc::now() + by).fixed_offset()),
        )
        .filter(runtime_nodes::Column::LicenseId.eq(license_id))
        .exec(&app.state.db)
        .await
        .expect("update");
}

async fn check_in(app: &TestApp, key: &str) -> Value {
    let answer = app
        .graphql(
            r#"mutation($key: String!) { checkIn(licenseKey: $key, fingerprint: "fp-late") { code } }"#,
            json!({ "key": key }),
            None,
        )
        .await;
    answer["data"]["checkIn"]["code"].clone()
}

#[tokio::test]
async fn a_node_that_comes_back_in_time_is_resurrected_and_one_too_late_is_announced() {
    let app = spawn_app().await;
    let owner = app.developer("late@example.com", "solo").await;
    let filter = format!("(licenseId: \"{}\")", owner.license_id);
    let mut nodes = open(&app, &owner.token, "runtimeNodeEvents", &filter).await;
    app.activate_node(&owner.license_key, "fp-late").await;
    move_deadline(&app, owner.license_id, -chrono::Duration::minutes(5)).await;
    assert_eq!(check_in(&app, &owner.license_key).await, "VALID");
    move_deadline(&app, owner.license_id, -chrono::Duration::hours(2)).await;
    assert_eq!(check_in(&app, &owner.license_key).await, "HEARTBEAT_DEAD");
    assert_eq!(
        received(&mut nodes, "runtimeNodeEvents").await,
        [
            "license.node_activated",
            "license.node_resurrected",
            "license.node_checked_in_late"
        ]
    );
}

#[tokio::test]
async fn a_pool_reaching_its_alert_threshold_is_announced_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut pools = open(&app, &admin, "poolEvents", "").await;
    let created = app
        .graphql(
            r#"mutation { createDatabasePool(host: "db-th.internal", region: "th", maxDatabases: 4, alertThreshold: 0.5) { id } }"#,
            json!({}),
            Some(&admin),
        )
        .await;
    let pool_id = created["data"]["createDatabasePool"]["id"].clone();
    assert!(pool_id.is_string(), "{created}");
    for n in 0..3 {
        let developer = app.developer(&format!("th{n}@example.com"), "solo").await;
        let instance = app
            .graphql(
                "mutation($s: String!) { createInstance(name: \"Shop\", subdomain: $s, region: \"th\") { status } }",
                json!({ "s": format!("th-shop-{n}") }),
                Some(&developer.token),
            )
            .await;
        assert_eq!(
            instance["data"]["createInstance"]["status"], "provisioning",
            "{instance}"
        );
    }
    let mut crossings = Vec::new();
    while let Some(message) = pools.next_message(Duration::from_millis(700)).await {
        crossings.push(message["payload"]["data"]["poolEvents"].clone());
    }
    assert_eq!(crossings.len(), 1, "{crossings:?}");
    assert_eq!(crossings[0]["type"], "pool.past_threshold");
    assert_eq!(crossings[0]["entityId"], pool_id);
    assert_eq!(crossings[0]["data"]["currentDatabases"], 2);
}

#[tokio::test]
async fn usage_events_tell_a_developer_of_its_own_thresholds_and_refusals_only() {
    let app = spawn_app().await;
    let (owner, instance) = app
        .developer_with_instance("metered@example.com", "free")
        .await;
    let other = app.developer("unmetered@example.com", "free").await;
    let mut as_owner = open(&app, &owner.token, "usageEvents", "").await;
    let mut as_other = open(&app, &other.token, "usageEvents", "").await;
    // The free plan allows 10,000 API requests a day: 8,500 cross 80%.
    let recorded = app
        .graphql(
            "mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }",
            json!({ "events": [{ "transactionId": "usage-events-1", "instanceId": instance, "metric": "api_requests", "value": 8500 }] }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(recorded["data"]["recordUsage"]["accepted"], 1, "{recorded}");
    assert_eq!(
        received(&mut as_owner, "usageEvents").await,
        ["usage.threshold_crossed"]
    );
    // Past the quota: refused, announced once however often it is tried within the minute.
    for attempt in 0..3 {
        let refused = app
            .graphql(
                "mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }",
                json!({ "events": [{ "transactionId": format!("usage-over-{attempt}"), "instanceId": instance, "metric": "api_requests", "value": 2000 }] }),
                Some(&owner.token),
            )
            .await;
        assert_eq!(error_code(&refused), Some("QUOTA_EXCEEDED"), "{refused}");
    }
    let mut over = Vec::new();
    while let Some(message) = as_owner.next_message(Duration::from_millis(700)).await {
        over.push(message["payload"]["data"]["usageEvents"].clone());
    }
    assert_eq!(over.len(), 1, "{over:?}");
    assert_eq!(over[0]["type"], "usage.quota_exceeded");
    assert_eq!(over[0]["data"]["metric"], "api_requests");
    assert_eq!(over[0]["data"]["current"], 8500);
    assert!(received(&mut as_other, "usageEvents").await.is_empty());
}

/// The api_requests figure of a `currentUsage` push.
fn api_requests(message: &Value) -> Option<i64> {
    message["payload"]["data"]["currentUsage"]
        .as_array()?
        .iter()
        .find(|m| m["metric"] == "api_requests")?["value"]
        .as_i64()
}

#[tokio::test]
async fn current_usage_is_pushed_when_it_changes_at_most_once_a_second() {
    let app = spawn_app().await;
    let (owner, instance) = app
        .developer_with_instance("pushed@example.com", "pro")
        .await;
    let mut pushed = Subscription::open(
        &app.ws_url(),
        Some(&owner.token),
        &format!("subscription {{ currentUsage(instanceId: \"{instance}\") {{ metric value }} }}"),
    )
    .await;
    let first = pushed
        .next_message(Duration::from_secs(5))
        .await
        .expect("at once");
    assert_eq!(api_requests(&first), Some(0), "{first}");

    let record = |n: usize| {
        let app = &app;
        let token = owner.token.clone();
        let instance = instance.clone();
        async move {
            app.graphql(
                "mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }",
                json!({ "events": [{ "transactionId": format!("push-{n}"), "instanceId": instance, "metric": "api_requests", "value": 10 }] }),
                Some(&token),
            )
            .await
        }
    };
    record(0).await;
    let second = pushed
        .next_message(Duration::from_secs(3))
        .await
        .expect("a push");
    assert_eq!(api_requests(&second), Some(10), "{second}");

    // Five changes within a moment: folded into at most two pushes, the last with all of them.
    for n in 1..=5 {
        record(n).await;
    }
    let mut pushes = Vec::new();
    while let Some(message) = pushed.next_message(Duration::from_millis(1_500)).await {
        pushes.push(api_requests(&message));
    }
    assert!((1..=2).contains(&pushes.len()), "{pushes:?}");
    assert_eq!(pushes.last().copied().flatten(), Some(60), "{pushes:?}");

    let other = app.developer("nosy@example.com", "pro").await;
    let mut nosy = Subscription::open(
        &app.ws_url(),
        Some(&other.token),
        &format!("subscription {{ currentUsage(instanceId: \"{instance}\") {{ metric value }} }}"),
    )
    .await;
    let refused = nosy
        .next_message(Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(api_requests(&refused).is_none(), "{refused}");
}
