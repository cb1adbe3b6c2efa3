use crate::helpers::{Developer, TestApp, error_code, spawn_app, spawn_gateway_process, time};
use chrono::{Duration, Utc};
use entity::{licenses, plan_entitlements, prelude::*, runtime_nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

const VALIDATE: &str = r#"query($key: String!, $fp: String, $product: String) {
    validateLicense(key: $key, fingerprint: $fp, product: $product) {
        valid code detail license { state expiresAt entitlements { maxRuntimeNodes } }
    }
}"#;

const CHECK_IN: &str = r#"mutation($key: String!, $fp: String!) {
    checkIn(licenseKey: $key, fingerprint: $fp, version: "1.0.1") {
        valid code nextHeartbeatBefore node { id version alive } license { state }
    }
}"#;

async fn check_in(app: &TestApp, key: &str, fingerprint: &str) -> Value {
    app.graphql(CHECK_IN, json!({ "key": key, "fp": fingerprint }), None)
        .await
}

async fn validate(
    app: &TestApp,
    key: &str,
    fingerprint: Option<&str>,
    product: Option<&str>,
) -> Value {
    let body = app
        .validate_license(VALIDATE, key, fingerprint, product)
        .await;
    body["data"]["validateLicense"].clone()
}

/// Sets one of the entitlements of the plan the license is on.
async fn set_plan(app: &TestApp, license_id: Uuid, column: plan_entitlements::Column, value: i32) {
    let license = Licenses::find_by_id(license_id)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    PlanEntitlements::update_many()
        .col_expr(column, Expr::value(value))
        .filter(plan_entitlements::Column::PlanId.eq(license.plan_id))
        .exec(&app.state.db)
        .await
        .expect("update");
}

async fn set_max_nodes(app: &TestApp, license_id: Uuid, max: i32) {
    set_plan(
        app,
        license_id,
        plan_entitlements::Column::MaxRuntimeNodes,
        max,
    )
    .await;
}

async fn move_deadline(app: &TestApp, license_id: Uuid, by: Duration) {
    let deadline = (Utc::now() + by).fixed_offset();
    RuntimeNodes::update_many()
        .col_expr(
            runtime_nodes::Column::HeartbeatDeadlineAt,
            Expr::value(deadline),
        )
        .filter(runtime_nodes::Column::LicenseId.eq(license_id))
        .exec(&app.state.db)
        .await
        .expect("update");
}

#[tokio::test]
async fn activation_is_idempotent_and_limited_by_the_plan() {
    let app = spawn_app().await;
    let dev = app.developer("nodes@example.com", "pro").await; // pro: 2 nodes
    let first = app.activate_node(&dev.license_key, "fp-a").await;
    let again = app.activate_node(&dev.license_key, "fp-a").await;
    assert_eq!(
        first["data"]["activateRuntimeNode"]["alive"], true,
        "{first}"
    );
    assert_eq!(
        first["data"]["activateRuntimeNode"]["id"],
        again["data"]["activateRuntimeNode"]["id"]
    );
    app.activate_node(&dev.license_key, "fp-b").await;
    let third = app.activate_node(&dev.license_key, "fp-c").await;
    assert_eq!(error_code(&third), Some("CONFLICT"));
    assert_eq!(
        third["errors"][0]["extensions"]["reason"],
        "TOO_MANY_MACHINES"
    );

    let wrong = app.activate_node("AAAAA-BBBBB-CCCCC", "fp-x").await;
    assert_eq!(error_code(&wrong), Some("NOT_FOUND"));

    // A deactivated node frees its slot.
    let id = first["data"]["activateRuntimeNode"]["id"].clone();
    let off = app
        .graphql(
            "mutation($id: UUID!) { deactivateRuntimeNode(id: $id) { status } }",
            json!({ "id": id }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(
        off["data"]["deactivateRuntimeNode"]["status"], "DEACTIVATED",
        "{off}"
    );
    let now_fits = app.activate_node(&dev.license_key, "fp-c").await;
    assert_eq!(
        now_fits["data"]["activateRuntimeNode"]["alive"], true,
        "{now_fits}"
    );

    // Replacing swaps fingerprints in one step without needing a free slot.
    let c_id = now_fits["data"]["activateRuntimeNode"]["id"].clone();
    let replaced = app
        .graphql(
            "mutation($id: UUID!) { replaceRuntimeNode(oldId: $id, newFingerprint: \"fp-d\") { fingerprint alive } }",
            json!({ "id": c_id }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(
        replaced["data"]["replaceRuntimeNode"]["fingerprint"], "fp-d",
        "{replaced}"
    );
    let nodes = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { runtimeNodes { fingerprint } } }",
            json!({ "id": dev.license_id }),
            Some(&dev.token),
        )
        .await;
    let mut fingerprints: Vec<&str> = nodes["data"]["license"]["runtimeNodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["fingerprint"].as_str())
        .collect();
    fingerprints.sort();
    assert_eq!(fingerprints, ["fp-b", "fp-d"]);
}

#[tokio::test]
async fn validation_answers_every_code() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("codes@example.com", "pro").await;
    let key = dev.license_key.as_str();

    let plain = validate(&app, key, None, None).await;
    assert_eq!(plain["code"], "VALID", "{plain}");
    assert_eq!(plain["valid"], true);
    assert_eq!(plain["license"]["entitlements"]["maxRuntimeNodes"], 2);

    let unknown = validate(
        &app,
        "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ",
        None,
        None,
    )
    .await;
    let mut tampered = key.to_owned();
    tampered.replace_range(0..1, if tampered.starts_with('A') { "B" } else { "A" });
    let wrong = validate(&app, &tampered, None, None).await;
    assert_eq!(unknown, wrong, "unknown and wrong keys answer alike");
    assert_eq!(unknown["code"], "NOT_FOUND");
    assert!(unknown["license"].is_null());

    assert_eq!(
        validate(&app, key, None, Some("other")).await["code"],
        "PRODUCT_SCOPE_MISMATCH"
    );
    assert_eq!(
        validate(&app, key, None, Some("core")).await["code"],
        "VALID"
    );
    assert_eq!(
        validate(&app, key, Some("fp-1"), None).await["code"],
        "NO_MACHINE"
    );
    app.activate_node(key, "fp-1").await;
    assert_eq!(
        validate(&app, key, Some("fp-1"), None).await["code"],
        "VALID"
    );
    assert_eq!(
        validate(&app, key, Some("fp-2"), None).await["code"],
        "FINGERPRINT_SCOPE_MISMATCH"
    );

    app.activate_node(key, "fp-2").await;
    set_max_nodes(&app, dev.license_id, 1).await;
    assert_eq!(
        validate(&app, key, Some("fp-1"), None).await["code"],
        "TOO_MANY_MACHINES"
    );
    set_max_nodes(&app, dev.license_id, 2).await;

    move_deadline(&app, dev.license_id, -Duration::minutes(1)).await;
    assert_eq!(
        validate(&app, key, Some("fp-1"), None).await["code"],
        "HEARTBEAT_DEAD"
    );

    let state =
        |s: &str, p: Option<&str>| json!({ "id": dev.license_id, "state": s, "payment": p });
    let change = "mutation($id: UUID!, $state: LicenseState!, $payment: PaymentState) { changeLicenseState(id: $id, state: $state, paymentState: $payment) { state } }";
    app.graphql(change, state("PAST_DUE", Some("PAST_DUE")), Some(&admin))
        .await;
    assert_eq!(validate(&app, key, None, None).await["code"], "OVERDUE");
    app.graphql(change, state("SUSPENDED", None), Some(&admin))
        .await;
    assert_eq!(validate(&app, key, None, None).await["code"], "SUSPENDED");
    app.graphql(change, state("ACTIVE", Some("ACTIVE")), Some(&admin))
        .await;
    Licenses::update_many()
        .col_expr(
            licenses::Column::ExpiresAt,
            Expr::value((Utc::now() - Duration::days(1)).fixed_offset()),
        )
        .filter(licenses::Column::Id.eq(dev.license_id))
        .exec(&app.state.db)
        .await
        .expect("expire");
    assert_eq!(validate(&app, key, None, None).await["code"], "EXPIRED");
    app.graphql(change, state("REVOKED", None), Some(&admin))
        .await;
    assert_eq!(validate(&app, key, None, None).await["code"], "REVOKED");
}

#[tokio::test]
async fn heartbeats_keep_nodes_alive_and_dead_nodes_come_back_only_in_time() {
    let app = spawn_app().await;
    let dev = app.developer("beat@example.com", "solo").await;
    app.activate_node(&dev.license_key, "fp-1").await;

    let beat = check_in(&app, &dev.license_key, "fp-1").await;
    let answer = &beat["data"]["checkIn"];
    assert_eq!(answer["code"], "VALID", "{beat}");
    assert_eq!(answer["node"]["version"], "1.0.1");
    let next = time(&answer["nextHeartbeatBefore"]);
    assert!(
        (next - Utc::now()).num_seconds() > 500,
        "ten-minute default window"
    );

    // Dead, but within the resurrection window: the heartbeat brings it back.
    move_deadline(&app, dev.license_id, -Duration::minutes(5)).await;
    let back = check_in(&app, &dev.license_key, "fp-1").await;
    assert_eq!(back["data"]["checkIn"]["code"], "VALID", "{back}");
    assert_eq!(back["data"]["checkIn"]["node"]["alive"], true);

    // Dead past the resurrection window: refused, and it must activate again.
    move_deadline(&app, dev.license_id, -Duration::hours(2)).await;
    let dead = check_in(&app, &dev.license_key, "fp-1").await;
    assert_eq!(dead["data"]["checkIn"]["code"], "HEARTBEAT_DEAD", "{dead}");
    assert!(dead["data"]["checkIn"]["nextHeartbeatBefore"].is_null());
    let again = check_in(&app, &dev.license_key, "fp-1").await;
    assert_eq!(again["data"]["checkIn"]["code"], "NO_MACHINE", "{again}");
    let fresh = app.activate_node(&dev.license_key, "fp-1").await;
    assert_eq!(
        fresh["data"]["activateRuntimeNode"]["alive"], true,
        "{fresh}"
    );

    let unknown = check_in(&app, "nope", "fp-1").await;
    assert_eq!(unknown["data"]["checkIn"]["code"], "NOT_FOUND");
}

async fn race(app: Arc<TestApp>, key: String, fingerprints: Vec<String>) -> usize {
    let attempts = fingerprints.into_iter().map(|fp| {
        let (app, key) = (app.clone(), key.clone());
        tokio::spawn(async move { app.activate_node(&key, &fp).await })
    });
    let results = futures_util::future::join_all(attempts).await;
    results
        .into_iter()
        .map(|r| r.expect("task"))
        .filter(|body| {
            let ok = body["data"]["activateRuntimeNode"]["alive"] == true;
            assert!(
                ok || body["errors"][0]["extensions"]["reason"] == "TOO_MANY_MACHINES",
                "{body}"
            );
            ok
        })
        .count()
}

#[tokio::test]
async fn concurrent_activations_respect_the_node_limit() {
    let app = spawn_app().await;
    let dev = app.developer("swarm@example.com", "agency_pro").await;
    set_max_nodes(&app, dev.license_id, 3).await;
    let app = Arc::new(app);

    let distinct = (0..50).map(|n| format!("fp-{n}")).collect();
    assert_eq!(
        race(app.clone(), dev.license_key.clone(), distinct).await,
        3
    );
    let same = (0..50).map(|_| "fp-same".to_owned()).collect();
    race(app.clone(), dev.license_key.clone(), same).await;

    let alive = RuntimeNodes::find()
        .filter(runtime_nodes::Column::LicenseId.eq(dev.license_id))
        .filter(runtime_nodes::Column::Status.eq("active"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(
        alive, 3,
        "three distinct fingerprints and no duplicate of the fourth"
    );
}

#[tokio::test]
async fn one_fingerprint_activated_concurrently_is_one_node() {
    let app = Arc::new(spawn_app().await);
    let dev = app.developer("twins@example.com", "agency_pro").await;
    let same = (0..50).map(|_| "fp-twin".to_owned()).collect();
    assert_eq!(
        race(app.clone(), dev.license_key.clone(), same).await,
        50,
        "every request gets the node"
    );
    let nodes = RuntimeNodes::find()
        .filter(runtime_nodes::Column::LicenseId.eq(dev.license_id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(nodes, 1);
}

#[tokio::test]
async fn wrong_keys_past_the_rate_are_refused_but_a_right_key_never_is() {
    let app = crate::helpers::spawn_app_with(&[("VALIDATION_FAILURES_PER_MINUTE", "3")]).await;
    let dev = app.developer("guarded@example.com", "solo").await;
    assert_eq!(
        validate(&app, &dev.license_key, None, None).await["code"],
        "VALID"
    );
    // Guesses sharing the license's own prefix, as a stranger who saw it would send.
    let prefix = &dev.license_key[..5];
    let mut codes = Vec::new();
    for n in 0..5 {
        let guess = format!("{prefix}-AAAA{n}-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG");
        codes.push(validate(&app, &guess, None, None).await["code"].clone());
    }
    assert_eq!(codes[..3], ["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
    assert_eq!(codes[3..], ["RATE_LIMITED", "RATE_LIMITED"], "{codes:?}");
    // The right key still answers, from this source and for its own node.
    assert_eq!(
        validate(&app, &dev.license_key, None, None).await["code"],
        "VALID"
    );
    let activation = app.activate_node(&dev.license_key, "fp").await;
    assert!(activation["errors"].is_null(), "{activation}");
    // A wrong key at activation is refused like one at validation.
    let wrong = app
        .activate_node("ZZZZZ-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG", "fp")
        .await;
    assert_eq!(error_code(&wrong), Some("RATE_LIMITED"), "{wrong}");
    assert!(
        wrong["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some_and(|s| s >= 1)
    );
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn guesses_spread_over_two_gateways_are_counted_together() {
    let limit = [("VALIDATION_FAILURES_PER_MINUTE", "3")];
    let app = crate::helpers::spawn_app_with(&limit).await;
    let dev = app.developer("spread@example.com", "solo").await;
    let (_child, there) = spawn_gateway_process(&app.database_url, &limit).await;
    let validate_at = |address: String, key: String| {
        let app = &app;
        async move {
            let body = app
                .graphql_at(&address, VALIDATE, json!({ "key": key }), None)
                .await;
            body["data"]["validateLicense"]["code"].clone()
        }
    };
    let here = app.address.clone();
    // Three guesses spread over the gateways: the IP reaches the limit of three, which neither
    // gateway reaches alone.
    for (n, gateway) in [&here, &here, &there].into_iter().enumerate() {
        let guess = format!("SPRD{n}-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG");
        assert_eq!(validate_at(gateway.clone(), guess).await, "NOT_FOUND");
    }
    // The signals travel through the database: give them a moment. Then one more wrong key at
    // each gateway is refused, which it would not be had each counted only its own.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for gateway in [here, there] {
        let guess = "LATE0-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG".to_owned();
        let code = validate_at(gateway.clone(), guess).await;
        assert_eq!(
            code, "RATE_LIMITED",
            "{gateway} counted only its own guesses"
        );
        let right = validate_at(gateway.clone(), dev.license_key.clone()).await;
        assert_eq!(right, "VALID", "{gateway} refused a right key");
    }
}

/// A heartbeat that names the fingerprint with stray spaces and no version.
const LIVE_CHECK_IN: &str = r#"mutation($key: String!) { checkIn(licenseKey: $key, fingerprint: " fp-1 ") {
    code nextHeartbeatBefore node { version } license { state } } }"#;

/// A developer whose license has node `fp-1` (version 1.0.0) on a plan with a 120 s heartbeat
/// window.
async fn live_node_on_a_two_minute_window(app: &TestApp, email: &str) -> Developer {
    let dev = app.developer(email, "solo").await;
    app.activate_node(&dev.license_key, "fp-1").await; // version 1.0.0
    set_plan(
        app,
        dev.license_id,
        plan_entitlements::Column::HeartbeatWindowSeconds,
        120,
    )
    .await;
    dev
}

#[tokio::test]
async fn a_heartbeat_follows_the_plans_window_and_is_recorded_even_while_suspended() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = live_node_on_a_two_minute_window(&app, "quick@example.com").await;

    let beat = app
        .graphql(LIVE_CHECK_IN, json!({ "key": dev.license_key }), None)
        .await;
    let answer = &beat["data"]["checkIn"];
    assert_eq!(answer["code"], "VALID", "{beat}");
    assert_eq!(
        answer["node"]["version"], "1.0.0",
        "no version: the old one stays"
    );
    let next = time(&answer["nextHeartbeatBefore"]);
    let ahead = (next - Utc::now()).num_seconds();
    assert!(
        (100..=120).contains(&ahead),
        "the plan's 120 s window: {ahead}"
    );

    // A suspended license still records the heartbeat, and says so.
    app.graphql(
        "mutation($id: UUID!) { suspendLicense(id: $id) { state } }",
        json!({ "id": dev.license_id }),
        Some(&admin),
    )
    .await;
    let beat = check_in(&app, &dev.license_key, "fp-1").await;
    assert_eq!(beat["data"]["checkIn"]["code"], "SUSPENDED", "{beat}");
    assert_eq!(beat["data"]["checkIn"]["node"]["version"], "1.0.1");
    assert_eq!(beat["data"]["checkIn"]["license"]["state"], "SUSPENDED");
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_live_node_checks_in_with_one_statement() {
    let app = spawn_app().await;
    let dev = live_node_on_a_two_minute_window(&app, "quick@example.com").await;
    let (beat, sent) = app
        .graphql_counted(LIVE_CHECK_IN, json!({ "key": dev.license_key }), None)
        .await;
    assert_eq!(beat["data"]["checkIn"]["code"], "VALID", "{beat}");
    assert_eq!(sent, 1, "a live heartbeat is one statement");
}
