use crate::helpers::{TestApp, error_code, spawn_app};
use chrono::{Duration, Utc};
use entity::{prelude::*, usage_events, usage_rollups};
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const RECORD: &str = r#"mutation($events: [UsageEventInput!]!) {
    recordUsage(events: $events) { accepted duplicates }
}"#;

fn event(tx: &str, instance: &str, metric: &str, value: i64) -> Value {
    json!({ "transactionId": tx, "instanceId": instance, "metric": metric, "value": value })
}

async fn record(app: &TestApp, token: &str, events: Vec<Value>) -> Value {
    app.graphql(RECORD, json!({ "events": events }), Some(token))
        .await
}

async fn stored_events(app: &TestApp) -> u64 {
    UsageEvents::find()
        .count(&app.state.db)
        .await
        .expect("count")
}

async fn instance_day(app: &TestApp, instance: &str, metric: &str) -> Option<i64> {
    UsageRollups::find()
        .filter(usage_rollups::Column::ScopeType.eq("instance"))
        .filter(usage_rollups::Column::ScopeId.eq(uuid::Uuid::parse_str(instance).expect("uuid")))
        .filter(usage_rollups::Column::MetricCode.eq(metric))
        .filter(usage_rollups::Column::Granularity.eq("day"))
        .one(&app.state.db)
        .await
        .expect("rollup")
        .map(|r| r.value)
}

#[tokio::test]
async fn duplicate_keys_in_a_batch_and_across_concurrent_batches_are_stored_once() {
    let app = Arc::new(spawn_app().await);
    let (dev, instance) = app
        .developer_with_instance("meter@example.com", "pro")
        .await;
    let token = dev.token;
    // 100 events, 90 distinct keys: every tenth key appears twice.
    let mut batch: Vec<Value> = (0..90)
        .map(|n| event(&format!("tx-{n}"), &instance, "api_requests", n + 1))
        .collect();
    for n in (0..90).step_by(9) {
        batch.push(event(&format!("tx-{n}"), &instance, "api_requests", 1000));
    }
    assert_eq!(batch.len(), 100);
    let (first, second) = tokio::join!(
        record(&app, &token, batch.clone()),
        record(&app, &token, batch.clone())
    );
    let accepted = |b: &Value| {
        b["data"]["recordUsage"]["accepted"]
            .as_i64()
            .unwrap_or_else(|| panic!("{b}"))
    };
    let duplicates = |b: &Value| {
        b["data"]["recordUsage"]["duplicates"]
            .as_i64()
            .unwrap_or_else(|| panic!("{b}"))
    };
    assert_eq!(accepted(&first) + accepted(&second), 90, "{first} {second}");
    assert_eq!(duplicates(&first) + duplicates(&second), 110);
    assert_eq!(stored_events(&app).await, 90);
    // The first occurrence of a key counts: 1 + 2 + ... + 90.
    assert_eq!(
        instance_day(&app, &instance, "api_requests").await,
        Some(4095)
    );

    let again = record(&app, &token, batch).await;
    assert_eq!(
        again["data"]["recordUsage"],
        json!({ "accepted": 0, "duplicates": 100 })
    );
    assert_eq!(stored_events(&app).await, 90);
}

#[tokio::test]
async fn an_invalid_event_refuses_the_whole_batch_and_names_its_index() {
    let app = spawn_app().await;
    let (dev, instance) = app
        .developer_with_instance("strict@example.com", "pro")
        .await;
    let token = dev.token;
    let old = (Utc::now() - Duration::days(36)).to_rfc3339();
    let ahead = (Utc::now() + Duration::minutes(10)).to_rfc3339();
    let cases = [
        (json!({ "timestamp": old }), "events[2].timestamp"),
        (json!({ "timestamp": ahead }), "events[2].timestamp"),
        (json!({ "metric": "no_such_metric" }), "events[2].metric"),
        (json!({ "value": -1 }), "events[2].value"),
        (json!({ "transactionId": "" }), "events[2].transactionId"),
        (
            json!({ "instanceId": uuid::Uuid::now_v7() }),
            "events[2].instanceId",
        ),
    ];
    for (change, field) in cases {
        let mut bad = event("tx-bad", &instance, "api_requests", 1);
        for (k, v) in change.as_object().expect("object") {
            bad[k] = v.clone();
        }
        let batch = vec![
            event("tx-a", &instance, "api_requests", 1),
            event("tx-b", &instance, "api_requests", 1),
            bad,
        ];
        let body = record(&app, &token, batch).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(
        stored_events(&app).await,
        0,
        "nothing of a refused batch lands"
    );
    let too_many: Vec<Value> = (0..1001)
        .map(|n| event(&format!("tx-{n}"), &instance, "api_requests", 1))
        .collect();
    let body = record(&app, &token, too_many).await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
}

#[tokio::test]
async fn others_instances_and_anonymous_callers_are_refused() {
    let app = spawn_app().await;
    let (_, instance) = app
        .developer_with_instance("owner@example.com", "pro")
        .await;
    let (intruder, _) = app
        .developer_with_instance("intruder@example.com", "pro")
        .await;
    let body = record(
        &app,
        &intruder.token,
        vec![event("tx-1", &instance, "api_requests", 5)],
    )
    .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "events[0].instanceId"
    );
    let body = app
        .graphql(
            RECORD,
            json!({ "events": [event("tx-1", &instance, "api_requests", 5)] }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    assert_eq!(stored_events(&app).await, 0);
}

#[tokio::test]
async fn a_runtime_node_reports_usage_for_its_license_with_its_key() {
    let app = spawn_app().await;
    let dev = app.developer("keyed@example.com", "pro").await;
    let (key, license) = (dev.license_key.as_str(), dev.license_id);
    let body = app
        .graphql(
            RECORD,
            json!({ "events": [{ "transactionId": "n-1", "licenseId": license, "metric": "mail_credits", "value": 7 }] }),
            Some(key),
        )
        .await;
    assert_eq!(body["data"]["recordUsage"]["accepted"], 1, "{body}");
    let current = app
        .graphql(
            r#"query($d: UUID) { currentUsage(developerId: $d) { metric value limit remaining granularity } }"#,
            json!({ "d": dev.id }),
            Some(&dev.token),
        )
        .await;
    let mail = current["data"]["currentUsage"]
        .as_array()
        .unwrap_or_else(|| panic!("{current}"))
        .iter()
        .find(|c| c["metric"] == "mail_credits")
        .cloned()
        .expect("mail credits listed");
    assert_eq!(mail["value"], 7);
    assert_eq!(mail["limit"], 5000, "pro's monthly mail credits");
    assert_eq!(mail["remaining"], 4993);
    assert_eq!(mail["granularity"], "MONTH");

    let unknown = "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG-HHHHH";
    let body = app
        .graphql(
            RECORD,
            json!({ "events": [{ "transactionId": "n-2", "licenseId": license, "metric": "mail_credits", "value": 1 }] }),
            Some(unknown),
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let admin = app.admin_token().await;
    let revoked = app
        .graphql(
            r#"mutation($id: UUID!) { revokeLicense(id: $id) { state } }"#,
            json!({ "id": license }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeLicense"]["state"], "REVOKED",
        "{revoked}"
    );
    let body = app
        .graphql(
            RECORD,
            json!({ "events": [{ "transactionId": "n-3", "licenseId": license, "metric": "mail_credits", "value": 1 }] }),
            Some(key),
        )
        .await;
    assert_eq!(
        error_code(&body),
        Some("UNAUTHENTICATED"),
        "a revoked key opens nothing: {body}"
    );
}

#[tokio::test]
async fn a_hard_quota_takes_usage_up_to_the_limit_and_refuses_the_event_past_it() {
    let app = spawn_app().await;
    let (dev, instance) = app
        .developer_with_instance("capped@example.com", "pro")
        .await;
    let token = dev.token;
    app.set_override(dev.id, "daily_api_requests", json!(10))
        .await;
    let mut events = app.state.bus.subscribe();

    let body = record(
        &app,
        &token,
        vec![
            event("q-1", &instance, "api_requests", 4),
            event("q-2", &instance, "api_requests", 3),
        ],
    )
    .await;
    assert_eq!(body["data"]["recordUsage"]["accepted"], 2, "{body}");
    let body = record(
        &app,
        &token,
        vec![event("q-3", &instance, "api_requests", 3)],
    )
    .await;
    assert_eq!(
        body["data"]["recordUsage"]["accepted"], 1,
        "exactly at the limit: {body}"
    );

    let body = record(
        &app,
        &token,
        vec![
            event("q-4", &instance, "api_requests", 0),
            event("q-5", &instance, "api_requests", 1),
        ],
    )
    .await;
    assert_eq!(error_code(&body), Some("QUOTA_EXCEEDED"), "{body}");
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(ext["metric"], "api_requests");
    assert_eq!(ext["limit"], 10);
    assert_eq!(ext["current"], 10);
    assert_eq!(ext["index"], 1, "the event that would cross");
    assert_eq!(
        instance_day(&app, &instance, "api_requests").await,
        Some(10)
    );
    assert_eq!(
        stored_events(&app).await,
        3,
        "the refused batch left nothing"
    );

    let mut crossed = Vec::new();
    while let Ok(Ok(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()).await
    {
        if event.kind == "usage.threshold_crossed" {
            crossed.push(event.data["threshold"].as_i64().expect("threshold"));
        }
    }
    crossed.sort_unstable();
    assert_eq!(
        crossed,
        vec![80, 100],
        "crossing 80% and 100% announced once each"
    );

    let current = app
        .graphql(
            r#"query($i: UUID) { currentUsage(instanceId: $i) { metric value limit remaining } }"#,
            json!({ "i": instance }),
            Some(&token),
        )
        .await;
    let api = current["data"]["currentUsage"]
        .as_array()
        .unwrap_or_else(|| panic!("{current}"))
        .iter()
        .find(|c| c["metric"] == "api_requests")
        .cloned()
        .expect("listed");
    assert_eq!(
        api,
        json!({ "metric": "api_requests", "value": 10, "limit": 10, "remaining": 0 })
    );

    let admin = app.admin_token().await;
    let near = app
        .graphql(
            "{ instancesApproachingQuota(threshold: 0.9) { instance { id } metric value limit percent } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        near["data"]["instancesApproachingQuota"],
        json!([{ "instance": { "id": instance }, "metric": "api_requests", "value": 10, "limit": 10, "percent": 100.0 }]),
        "{near}"
    );
    let refused = app
        .graphql(
            "{ instancesApproachingQuota { metric } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
}

#[tokio::test]
async fn a_plan_with_overage_accepts_usage_past_the_limit() {
    let app = spawn_app().await;
    let (dev, instance) = app.developer_with_instance("big@example.com", "pro").await;
    app.set_override(dev.id, "daily_api_requests", json!(5))
        .await;
    app.set_override(dev.id, "allow_overage", json!(true)).await;
    let body = record(
        &app,
        &dev.token,
        vec![event("o-1", &instance, "api_requests", 8)],
    )
    .await;
    assert_eq!(body["data"]["recordUsage"]["accepted"], 1, "{body}");
    assert_eq!(instance_day(&app, &instance, "api_requests").await, Some(8));
}

/// Folds raw events the way the roll-ups should, independently of the server's code.
fn recompute(
    events: &[usage_events::Model],
    aggregation: &HashMap<&str, &str>,
) -> HashMap<(String, String, String, String, String), i64> {
    let mut sorted: Vec<&usage_events::Model> = events.iter().collect();
    sorted.sort_by_key(|e| (e.occurred_at, e.id));
    let mut values: HashMap<(String, String, String, String, String), i64> = HashMap::new();
    let mut distinct: HashSet<(String, String, String, String, String, String)> = HashSet::new();
    for e in sorted {
        let at = e.occurred_at.with_timezone(&Utc);
        let day = at.date_naive();
        let month = day.format("%Y-%m-01").to_string();
        let mut scopes = vec![("developer", e.developer_id)];
        if let Some(instance) = e.instance_id {
            scopes.push(("instance", instance));
        }
        for (scope, id) in scopes {
            for (granularity, bucket) in [("day", day.to_string()), ("month", month.clone())] {
                let key = (
                    scope.to_owned(),
                    id.to_string(),
                    e.metric_code.clone(),
                    granularity.to_owned(),
                    bucket,
                );
                let slot = values.entry(key.clone()).or_insert(0);
                match aggregation[e.metric_code.as_str()] {
                    "sum" => *slot += e.value,
                    "max" => *slot = (*slot).max(e.value),
                    "latest" => *slot = e.value,
                    _ => {
                        let value = e.unique_value.clone().unwrap_or_default();
                        if distinct.insert((key.0, key.1, key.2, key.3, key.4, value)) {
                            *slot += 1;
                        }
                    }
                }
            }
        }
    }
    values
}

#[tokio::test]
async fn roll_ups_equal_a_recomputation_from_raw_events() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (code, aggregation) in [("peak_sessions", "MAX"), ("active_users", "UNIQUE_COUNT")] {
        let body = app
            .graphql(
                r#"mutation($c: String!, $a: Aggregation!) { defineUsageMetric(input: { code: $c, name: $c, aggregation: $a }) { code } }"#,
                json!({ "c": code, "a": aggregation }),
                Some(&admin),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let (dev, first) = app
        .developer_with_instance("random@example.com", "pro")
        .await;
    let (token, license) = (dev.token, dev.license_id);
    let second = app.instance(&token, "second-shop", "eu").await;
    for key in [
        "daily_api_requests",
        "storage_quota_bytes",
        "monthly_mail_credits",
    ] {
        app.set_override(dev.id, key, Value::Null).await;
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let metrics = [
        "api_requests",
        "storage_bytes",
        "mail_credits",
        "peak_sessions",
        "active_users",
    ];
    let now = Utc::now();
    for batch in 0..15 {
        let size = rng.random_range(1..60);
        let events: Vec<Value> = (0..size)
            .map(|_| {
                let metric = metrics[rng.random_range(0..metrics.len())];
                // Keys repeat across and within batches on purpose.
                let tx = format!("r-{}", rng.random_range(0..400));
                let at = now - Duration::minutes(rng.random_range(0..(3 * 24 * 60)));
                let mut e = json!({
                    "transactionId": tx,
                    "metric": metric,
                    "value": rng.random_range(0..1000),
                    "uniqueValue": format!("user-{}", rng.random_range(0..20)),
                    "timestamp": at.to_rfc3339(),
                });
                match rng.random_range(0..3) {
                    0 => e["instanceId"] = json!(first),
                    1 => e["instanceId"] = json!(second),
                    _ => e["licenseId"] = json!(license),
                }
                e
            })
            .collect();
        let body = record(&app, &token, events).await;
        assert!(body["errors"].is_null(), "batch {batch}: {body}");
    }

    let raw = UsageEvents::find()
        .all(&app.state.db)
        .await
        .expect("events");
    assert!(
        raw.len() > 100,
        "enough events to mean something: {}",
        raw.len()
    );
    let aggregation: HashMap<&str, &str> = [
        ("api_requests", "sum"),
        ("storage_bytes", "latest"),
        ("mail_credits", "sum"),
        ("peak_sessions", "max"),
        ("active_users", "unique_count"),
    ]
    .into();
    let expected = recompute(&raw, &aggregation);
    let stored: HashMap<(String, String, String, String, String), i64> = UsageRollups::find()
        .all(&app.state.db)
        .await
        .expect("rollups")
        .into_iter()
        .map(|r| {
            (
                (
                    r.scope_type,
                    r.scope_id.to_string(),
                    r.metric_code,
                    r.granularity,
                    r.bucket.to_string(),
                ),
                r.value,
            )
        })
        .collect();
    assert_eq!(stored.len(), expected.len(), "one roll-up row per key");
    for (key, value) in &expected {
        assert_eq!(stored.get(key), Some(value), "roll-up {key:?}");
    }
}
