//! Changing a developer's plan: entitlements switch at once; a downgrade over the new limits is
//! refused with each limit named, and with `force` frees the newest surplus of what may be
//! freed, never members or instances.

use crate::helpers::{TestApp, error_code, spawn_app};
use serde_json::{Value, json};

const CHANGE: &str = r#"mutation($d: UUID!, $p: String!, $f: Boolean) {
    changePlan(developerId: $d, planCode: $p, force: $f) { license { plan { code } seatsTotal seatsUsed } released { metric ids } }
}"#;

async fn change(
    app: &TestApp,
    token: &str,
    developer: uuid::Uuid,
    plan: &str,
    force: bool,
) -> Value {
    app.graphql(
        CHANGE,
        json!({ "d": developer, "p": plan, "f": force }),
        Some(token),
    )
    .await
}

async fn limit(app: &TestApp, token: &str, key: &str) -> Value {
    let body = app
        .graphql(
            "{ me { entitlements { key limit } } }",
            json!({}),
            Some(token),
        )
        .await;
    body["data"]["me"]["entitlements"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .find(|e| e["key"] == key)
        .map(|e| e["limit"].clone())
        .unwrap_or(Value::Null)
}

fn metrics(body: &Value) -> Vec<(String, bool)> {
    body["errors"][0]["extensions"]["limits"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|l| {
            (
                l["metric"].as_str().unwrap_or("").to_owned(),
                l["releasable"] == true,
            )
        })
        .collect()
}

#[tokio::test]
async fn an_upgrade_switches_entitlements_at_once_and_only_its_developer_or_an_admin_may() {
    let app = spawn_app().await;
    let alice = app.developer("alice@example.com", "solo").await;
    let bob = app.developer("bob@example.com", "solo").await;
    assert_eq!(limit(&app, &alice.token, "max_runtime_nodes").await, 1);
    let refused = change(&app, &bob.token, alice.id, "pro", false).await;
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    let upgraded = change(&app, &alice.token, alice.id, "pro", false).await;
    assert_eq!(
        upgraded["data"]["changePlan"]["license"]["plan"]["code"], "pro",
        "{upgraded}"
    );
    assert_eq!(upgraded["data"]["changePlan"]["license"]["seatsTotal"], 3);
    assert_eq!(limit(&app, &alice.token, "max_runtime_nodes").await, 2);
    let admin = app.admin_token().await;
    let by_admin = change(&app, &admin, bob.id, "pro", false).await;
    assert!(by_admin["errors"].is_null(), "{by_admin}");
    let unknown = change(&app, &alice.token, alice.id, "no-such-plan", false).await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["field"], "planCode",
        "{unknown}"
    );
}

#[tokio::test]
async fn a_downgrade_over_limits_is_refused_naming_each_and_force_frees_the_newest_surplus() {
    let app = spawn_app().await;
    let developer = app.developer("big@example.com", "agency_pro").await;
    for n in 0..3 {
        app.node(&developer.license_key, &format!("fp-{n}")).await;
        let seat = app
            .graphql(
                "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) { status } }",
                json!({ "l": developer.license_id, "e": format!("crew{n}@example.com") }),
                Some(&developer.token),
            )
            .await;
        assert_eq!(seat["data"]["assignSeat"]["status"], "PENDING", "{seat}");
    }
    let refused = change(&app, &developer.token, developer.id, "solo", false).await;
    assert_eq!(error_code(&refused), Some("QUOTA_EXCEEDED"), "{refused}");
    assert_eq!(
        metrics(&refused),
        [
            ("runtime_nodes".to_owned(), true),
            ("seats".to_owned(), true),
            ("team_members".to_owned(), true)
        ]
    );
    assert_eq!(
        limit(&app, &developer.token, "max_runtime_nodes").await,
        10,
        "unchanged"
    );

    let forced = change(&app, &developer.token, developer.id, "solo", true).await;
    let result = &forced["data"]["changePlan"];
    assert_eq!(result["license"]["plan"]["code"], "solo", "{forced}");
    assert_eq!(result["license"]["seatsUsed"], 1, "{forced}");
    let freed: Vec<(String, usize)> = result["released"]
        .as_array()
        .expect("released")
        .iter()
        .map(|r| {
            (
                r["metric"].as_str().unwrap_or("").to_owned(),
                r["ids"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        freed,
        [
            ("runtime_nodes".to_owned(), 2),
            ("seats".to_owned(), 2),
            ("team_members".to_owned(), 2)
        ]
    );
    assert_eq!(limit(&app, &developer.token, "max_runtime_nodes").await, 1);
    let left = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { runtimeNodes { fingerprint } } }",
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        left["data"]["license"]["runtimeNodes"],
        json!([{ "fingerprint": "fp-0" }]),
        "the oldest node stays: {left}"
    );
}

#[tokio::test]
async fn members_and_instances_are_never_freed_by_force() {
    let app = spawn_app().await;
    let developer = app.developer("team@example.com", "pro").await;
    app.team_member(&developer, "one@example.com").await;
    app.team_member(&developer, "two@example.com").await;
    let forced = change(&app, &developer.token, developer.id, "solo", true).await;
    assert_eq!(error_code(&forced), Some("QUOTA_EXCEEDED"), "{forced}");
    assert_eq!(metrics(&forced), [("team_members".to_owned(), false)]);
    let members = app
        .graphql(
            "{ members { totalCount } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(members["data"]["members"]["totalCount"], 2, "{members}");
}
