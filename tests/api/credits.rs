//! Monthly credits: the plan's grant, spent atomically and never below zero, bought on top,
//! rolled over at the month's start with the ledger showing every movement.

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use chrono::{Datelike, TimeZone, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};

const BALANCES: &str = "query($d: UUID) { creditBalances(developerId: $d) { kind available granted purchased monthlyGrant periodStart } }";

const SPEND: &str = r#"mutation($k: CreditKind!, $n: Int!, $r: String) {
    spendCredits(kind: $k, amount: $n, reference: $r) { kind available granted purchased }
}"#;

const ADD: &str = r#"mutation($d: UUID!, $k: CreditKind!, $n: Int!) {
    addCredits(developerId: $d, kind: $k, amount: $n, reference: "order-1") { available granted purchased }
}"#;

const LEDGER: &str = r#"query($k: CreditKind!) { creditLedger(kind: $k, first: 20) {
    totalCount edges { node { reason amount grantedAfter purchasedAfter reference periodStart } } } }"#;

async fn balance(app: &TestApp, token: &str, kind: &str) -> Value {
    let body = app.graphql(BALANCES, json!({}), Some(token)).await;
    body["data"]["creditBalances"]
        .as_array()
        .and_then(|all| all.iter().find(|b| b["kind"] == kind))
        .cloned()
        .unwrap_or_else(|| panic!("{body}"))
}

async fn spend(app: &TestApp, token: &str, amount: i64, reference: Option<&str>) -> Value {
    app.graphql(
        SPEND,
        json!({ "k": "SMS", "n": amount, "r": reference }),
        Some(token),
    )
    .await
}

fn reasons(ledger: &Value) -> Vec<(String, i64)> {
    ledger["data"]["creditLedger"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{ledger}"))
        .iter()
        .map(|e| {
            (
                e["node"]["reason"].as_str().unwrap_or("").to_owned(),
                e["node"]["amount"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test]
async fn credits_are_granted_by_the_plan_spent_once_per_reference_and_never_below_zero() {
    let app = spawn_app().await;
    let developer = app.developer("credits@example.com", "pro").await;
    let sms = balance(&app, &developer.token, "SMS").await;
    assert_eq!(sms["available"], 100, "{sms}");
    assert_eq!(sms["monthlyGrant"], 100);
    assert_eq!(
        balance(&app, &developer.token, "MAIL").await["available"],
        5000
    );

    let spent = spend(&app, &developer.token, 30, Some("sms-0001")).await;
    assert_eq!(spent["data"]["spendCredits"]["available"], 70, "{spent}");
    let again = spend(&app, &developer.token, 30, Some("sms-0001")).await;
    assert_eq!(again["data"]["spendCredits"]["available"], 70, "{again}");

    let over = spend(&app, &developer.token, 80, None).await;
    assert_eq!(error_code(&over), Some("QUOTA_EXCEEDED"), "{over}");
    let ext = &over["errors"][0]["extensions"];
    assert_eq!(
        (
            ext["metric"].as_str(),
            ext["limit"].as_i64(),
            ext["current"].as_i64()
        ),
        (Some("sms_credits"), Some(70), Some(80)),
        "{over}"
    );

    // Bought credits come on top; a spend takes the grant first.
    let admin = app.admin_token().await;
    let by_developer = app
        .graphql(
            ADD,
            json!({ "d": developer.id, "k": "SMS", "n": 50 }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        error_code(&by_developer),
        Some("FORBIDDEN"),
        "{by_developer}"
    );
    let added = app
        .graphql(
            ADD,
            json!({ "d": developer.id, "k": "SMS", "n": 50 }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        added["data"]["addCredits"],
        json!({ "available": 120, "granted": 70, "purchased": 50 }),
        "{added}"
    );
    let mixed = spend(&app, &developer.token, 100, Some("sms-0002")).await;
    assert_eq!(
        mixed["data"]["spendCredits"],
        json!({ "kind": "SMS", "available": 20, "granted": 0, "purchased": 20 }),
        "{mixed}"
    );

    // A runtime node spends its license's developer's credits with the license key.
    let by_node = spend(&app, &developer.license_key, 5, Some("node-1")).await;
    assert_eq!(
        by_node["data"]["spendCredits"]["available"], 15,
        "{by_node}"
    );

    let ledger = app
        .graphql(LEDGER, json!({ "k": "SMS" }), Some(&developer.token))
        .await;
    assert_eq!(
        reasons(&ledger),
        vec![
            ("SPEND".to_owned(), -5),
            ("SPEND".to_owned(), -100),
            ("PURCHASE".to_owned(), 50),
            ("SPEND".to_owned(), -30),
            ("MONTHLY_GRANT".to_owned(), 100),
        ],
        "{ledger}"
    );
    assert_eq!(ledger["data"]["creditLedger"]["totalCount"], 5);

    // Nobody else reads them.
    let other = app.developer("other@example.com", "pro").await;
    let foreign = app
        .graphql(BALANCES, json!({ "d": developer.id }), Some(&other.token))
        .await;
    assert_eq!(error_code(&foreign), Some("NOT_FOUND"), "{foreign}");
    let bad = spend(&app, &developer.token, 0, None).await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "amount", "{bad}");
}

#[tokio::test]
async fn concurrent_spends_take_exactly_what_there_is() {
    let app = spawn_app().await;
    let developer = app.developer("race@example.com", "pro").await;
    let answers = join_all((0..15).map(|i| {
        let reference = format!("race-{i}");
        let app = &app;
        let token = developer.token.clone();
        async move { spend(app, &token, 10, Some(&reference)).await }
    }))
    .await;
    let refused = answers
        .iter()
        .filter(|a| error_code(a) == Some("QUOTA_EXCEEDED"))
        .count();
    let spent = answers.iter().filter(|a| a["errors"].is_null()).count();
    assert_eq!((spent, refused), (10, 5), "{answers:?}");
    assert_eq!(balance(&app, &developer.token, "SMS").await["available"], 0);
}

#[tokio::test]
async fn at_the_month_start_the_rest_of_the_grant_expires_and_the_new_one_comes_bought_credits_stay()
 {
    let app = spawn_app_with(&[("TEST_CLOCK", "true")]).await;
    let developer = app.developer("monthly@example.com", "pro").await;
    let admin = app.admin_token().await;
    spend(&app, &developer.token, 40, Some("before")).await;
    app.graphql(
        ADD,
        json!({ "d": developer.id, "k": "SMS", "n": 7 }),
        Some(&admin),
    )
    .await;

    let now = app.state.clock.now();
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = Utc
        .with_ymd_and_hms(year, month, 1, 1, 0, 0)
        .single()
        .expect("a time");
    let seconds = (next - now).num_seconds();
    let ran = app
        .graphql(
            "mutation($s: Int!) { advanceTestClock(seconds: $s) { ran { job rows } } }",
            json!({ "s": seconds }),
            Some(&admin),
        )
        .await;
    let grants = ran["data"]["advanceTestClock"]["ran"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["job"] == "CREDIT_GRANTS"))
        .cloned()
        .unwrap_or_else(|| panic!("{ran}"));
    assert!(grants["rows"].as_i64().is_some_and(|n| n >= 1), "{ran}");

    let sms = balance(&app, &developer.token, "SMS").await;
    assert_eq!(
        (sms["granted"].as_i64(), sms["purchased"].as_i64()),
        (Some(100), Some(7)),
        "{sms}"
    );
    let ledger = app
        .graphql(LEDGER, json!({ "k": "SMS" }), Some(&developer.token))
        .await;
    assert_eq!(
        reasons(&ledger)[..2],
        [
            ("MONTHLY_GRANT".to_owned(), 100),
            ("EXPIRED".to_owned(), -60)
        ],
        "{ledger}"
    );
}
