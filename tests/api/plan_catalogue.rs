//! The catalogue as admins keep it: plans created with prices and entitlements, changed into
//! new versions that what was already sold does not follow, and retired from sale.

use crate::helpers::{PASSWORD, SIGNUP, TestApp, error_code, spawn_app};
use serde_json::{Value, json};

const CREATE: &str = r#"mutation($input: CreatePlanInput!) {
    createPlan(input: $input) {
        id code name version latest active trialDays priceMinor currency interval
        prices { interval amountMinor currency providerPriceId }
        entitlements { maxSeats maxRuntimeNodes supportLevel features }
    }
}"#;

const UPDATE: &str = r#"mutation($code: String!, $input: UpdatePlanInput!) {
    updatePlan(code: $code, input: $input) {
        id code name version latest priceMinor prices { interval amountMinor } entitlements { maxSeats }
    }
}"#;

const RETIRE: &str =
    r#"mutation($code: String!) { retirePlan(code: $code) { code active retiredAt version } }"#;

const LICENSE_PLAN: &str = r#"query($id: UUID!) {
    license(id: $id) { seatsTotal plan { id code version latest entitlements { maxSeats } } }
}"#;

fn team_plan() -> Value {
    json!({
        "code": "team",
        "name": "Team",
        "trialDays": 7,
        "prices": [
            { "interval": "YEAR", "amountMinor": 99000, "currency": "usd", "providerPriceId": "price_team_year" },
            { "interval": "MONTH", "amountMinor": 9900, "currency": "USD", "providerPriceId": "price_team_month" }
        ],
        "entitlements": { "max_seats": 4, "max_runtime_nodes": null, "support_level": "priority", "feature.sso": true }
    })
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.graphql(CREATE, json!({ "input": input }), Some(token))
        .await
}

async fn audit_types(app: &TestApp, admin: &str) -> Vec<String> {
    let body = app
        .graphql(
            r#"{ auditEvents(first: 50, filter: { entityType: "plan" }) { edges { node { type metadata } } } }"#,
            json!({}),
            Some(admin),
        )
        .await;
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .filter_map(|e| e["node"]["type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn admins_create_plans_with_prices_and_entitlements_and_everyone_sees_them_on_sale() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("dev@example.com", "solo").await;

    let refused = create(&app, &developer.token, team_plan()).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");

    let created = create(&app, &admin, team_plan()).await;
    let plan = &created["data"]["createPlan"];
    assert_eq!(plan["version"], 1, "{created}");
    assert_eq!(plan["latest"], true);
    assert_eq!(plan["active"], true);
    // The monthly price is the one shown first and sorted by.
    assert_eq!(plan["priceMinor"], 9900);
    assert_eq!(plan["interval"], "MONTH");
    assert_eq!(
        plan["prices"],
        json!([
            { "interval": "MONTH", "amountMinor": 9900, "currency": "USD", "providerPriceId": "price_team_month" },
            { "interval": "YEAR", "amountMinor": 99000, "currency": "USD", "providerPriceId": "price_team_year" }
        ])
    );
    assert_eq!(plan["entitlements"]["maxSeats"], 4);
    assert_eq!(plan["entitlements"]["maxRuntimeNodes"], Value::Null);
    assert_eq!(plan["entitlements"]["supportLevel"], "priority");
    assert_eq!(plan["entitlements"]["features"]["sso"], true);

    // Anyone sees it on sale, without signing in, and may sign up on it.
    let listed = app
        .graphql("{ plans { code prices { amountMinor } } }", json!({}), None)
        .await;
    let codes: Vec<&str> = listed["data"]["plans"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert!(codes.contains(&"team"), "{listed}");
    let signed_up = app.developer("buyer@example.com", "team").await;
    let license = app
        .graphql(
            LICENSE_PLAN,
            json!({ "id": signed_up.license_id }),
            Some(&signed_up.token),
        )
        .await;
    assert_eq!(
        license["data"]["license"]["plan"]["code"], "team",
        "{license}"
    );

    let again = create(&app, &admin, team_plan()).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    assert_eq!(
        again["errors"][0]["extensions"]["reason"],
        "PLAN_CODE_TAKEN"
    );
    assert_eq!(audit_types(&app, &admin).await, vec!["plan.created"]);
}

#[tokio::test]
async fn plan_input_is_checked_field_by_field_before_anything_is_written() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "code": "Not A Code!" }), "code"),
        (json!({ "name": "" }), "name"),
        (json!({ "trialDays": 400 }), "trialDays"),
        (json!({ "prices": [] }), "prices"),
        (
            json!({ "prices": [
                { "interval": "MONTH", "amountMinor": 1, "currency": "USD" },
                { "interval": "MONTH", "amountMinor": 2, "currency": "USD" }
            ] }),
            "prices",
        ),
        (
            json!({ "prices": [{ "interval": "MONTH", "amountMinor": -1, "currency": "USD" }] }),
            "prices",
        ),
        (
            json!({ "prices": [{ "interval": "MONTH", "amountMinor": 1, "currency": "dollars" }] }),
            "prices",
        ),
        (
            json!({ "entitlements": { "max_parrots": 3 } }),
            "entitlements",
        ),
        (
            json!({ "entitlements": { "max_seats": -2 } }),
            "entitlements",
        ),
        (
            json!({ "entitlements": { "db_type": "mainframe" } }),
            "entitlements",
        ),
        (
            json!({ "entitlements": { "heartbeat_window_seconds": null } }),
            "entitlements",
        ),
    ];
    for (patch, field) in cases {
        let mut input = team_plan();
        for (key, value) in patch.as_object().unwrap_or_else(|| panic!("{patch}")) {
            input[key] = value.clone();
        }
        let body = create(&app, &admin, input).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{patch}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{patch}: {body}"
        );
    }
    assert!(audit_types(&app, &admin).await.is_empty());
}

#[tokio::test]
async fn a_change_of_entitlements_or_price_is_a_new_version_and_what_was_sold_keeps_its_own() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let first = create(&app, &admin, team_plan()).await;
    let first_id = first["data"]["createPlan"]["id"].clone();
    let early = app.developer("early@example.com", "team").await;

    // A new name is written on the version itself.
    let renamed = app
        .graphql(
            UPDATE,
            json!({ "code": "team", "input": { "name": "Team (classic)" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(renamed["data"]["updatePlan"]["id"], first_id, "{renamed}");
    assert_eq!(renamed["data"]["updatePlan"]["version"], 1);

    // More seats for a new price: version 2, sold from now on.
    let changed = app
        .graphql(
            UPDATE,
            json!({ "code": "team", "input": {
                "entitlements": { "max_seats": 10 },
                "prices": [{ "interval": "MONTH", "amountMinor": 14900, "currency": "USD", "providerPriceId": "price_team_v2" }]
            } }),
            Some(&admin),
        )
        .await;
    let v2 = &changed["data"]["updatePlan"];
    assert_eq!(v2["version"], 2, "{changed}");
    assert_ne!(v2["id"], first_id);
    assert_eq!(v2["name"], "Team (classic)");
    assert_eq!(v2["priceMinor"], 14900);
    assert_eq!(v2["entitlements"]["maxSeats"], 10);
    assert_eq!(v2["prices"].as_array().map(Vec::len), Some(1));

    // The license sold on version 1 keeps it, with its entitlements.
    let kept = app
        .graphql(
            LICENSE_PLAN,
            json!({ "id": early.license_id }),
            Some(&early.token),
        )
        .await;
    let plan = &kept["data"]["license"]["plan"];
    assert_eq!(plan["version"], 1, "{kept}");
    assert_eq!(plan["latest"], false);
    assert_eq!(plan["entitlements"]["maxSeats"], 4);

    // A new sale gets version 2; the catalogue shows version 2 only.
    let late = app.developer("late@example.com", "team").await;
    let sold = app
        .graphql(
            LICENSE_PLAN,
            json!({ "id": late.license_id }),
            Some(&late.token),
        )
        .await;
    assert_eq!(sold["data"]["license"]["plan"]["version"], 2, "{sold}");
    let one = app
        .graphql(r#"{ plan(code: "team") { version } }"#, json!({}), None)
        .await;
    assert_eq!(one["data"]["plan"]["version"], 2, "{one}");

    // Changing to the plan's own code moves the early license to the latest version.
    let moved = app
        .graphql(
            r#"mutation($d: UUID!) { changePlan(developerId: $d, planCode: "team") { license { plan { version } seatsTotal } } }"#,
            json!({ "d": early.id }),
            Some(&early.token),
        )
        .await;
    assert_eq!(
        moved["data"]["changePlan"]["license"]["plan"]["version"], 2,
        "{moved}"
    );
    assert_eq!(moved["data"]["changePlan"]["license"]["seatsTotal"], 10);

    let types = audit_types(&app, &admin).await;
    assert_eq!(
        types.iter().filter(|t| *t == "plan.updated").count(),
        2,
        "{types:?}"
    );
}

#[tokio::test]
async fn a_retired_plan_is_off_sale_but_what_was_sold_on_it_goes_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create(&app, &admin, team_plan()).await;
    let customer = app.developer("customer@example.com", "team").await;

    let by_developer = app
        .graphql(RETIRE, json!({ "code": "team" }), Some(&customer.token))
        .await;
    assert_eq!(
        error_code(&by_developer),
        Some("FORBIDDEN"),
        "{by_developer}"
    );

    let retired = app
        .graphql(RETIRE, json!({ "code": "team" }), Some(&admin))
        .await;
    assert_eq!(retired["data"]["retirePlan"]["active"], false, "{retired}");
    assert!(retired["data"]["retirePlan"]["retiredAt"].is_string());

    let public = app.graphql("{ plans { code } }", json!({}), None).await;
    let listed = public["data"]["plans"].to_string();
    assert!(!listed.contains("\"team\""), "{public}");
    let for_admin = app
        .graphql("{ plans { code active } }", json!({}), Some(&admin))
        .await;
    assert!(
        for_admin["data"]["plans"].to_string().contains("\"team\""),
        "{for_admin}"
    );

    let signup = app
        .graphql(
            SIGNUP,
            json!({ "input": { "email": "newcomer@example.com", "name": "N", "password": PASSWORD, "planCode": "team" } }),
            None,
        )
        .await;
    assert_eq!(error_code(&signup), Some("VALIDATION"), "{signup}");
    let validation = app.validation_code(&customer.license_key).await;
    assert_eq!(validation, "VALID", "{validation}");

    let twice = app
        .graphql(RETIRE, json!({ "code": "team" }), Some(&admin))
        .await;
    assert_eq!(
        twice["errors"][0]["extensions"]["reason"], "PLAN_RETIRED",
        "{twice}"
    );
    let missing = app
        .graphql(RETIRE, json!({ "code": "nope" }), Some(&admin))
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"), "{missing}");
}
