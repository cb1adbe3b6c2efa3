use crate::helpers::{PASSWORD, SIGNUP, error_code, spawn_app};
use entity::{audit_events, licenses, prelude::*};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

#[tokio::test]
async fn signup_creates_developer_trial_and_license_and_shows_the_key_once() {
    let app = spawn_app().await;
    let out = app.signup("ada@example.com", "solo").await;

    let key = out["licenseKey"].as_str().expect("key");
    assert_eq!(key.split('-').count(), 8, "grouped key: {key}");
    let license = &out["license"];
    assert_eq!(license["state"], "TRIALING");
    assert_eq!(license["paymentState"], "NOT_REQUIRED_FOR_TRIAL");
    assert_eq!(license["plan"]["code"], "solo");
    assert_eq!(license["seatsUsed"], 0);
    assert!(key.starts_with(license["keyPrefix"].as_str().expect("prefix")));
    assert!(license["trialEndsAt"].is_string());

    // Stored only as a digest, and the digest finds the license: the key works.
    let stored = Licenses::find()
        .filter(licenses::Column::KeyHash.eq(app.state.license_keys.digest(key)))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the key finds its license");
    assert_eq!(stored.id.to_string(), license["id"].as_str().expect("id"));
    assert_ne!(stored.key_hash, key);

    // The key is never shown again.
    let token = out["accessToken"].as_str().expect("token");
    let me = app
        .graphql(
            "{ me { email role licenses { id keyPrefix state } } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    assert_eq!(me["data"]["me"]["role"], "DEVELOPER");
    assert!(!me.to_string().contains(key));

    // One audit event per created thing, written with the change.
    let mut kinds: Vec<String> = AuditEvents::find()
        .all(&app.state.db)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.event_type)
        .filter(|t| t != "admin.bootstrapped")
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "developer.created",
            "license.created",
            "session.opened",
            "trial.created"
        ]
    );
    let license_audit = AuditEvents::find()
        .filter(audit_events::Column::EventType.eq("license.created"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("event");
    assert!(!license_audit.metadata.to_string().contains(key));
}

#[tokio::test]
async fn duplicate_email_is_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.signup("grace@example.com", "solo").await;
    let again = app
        .graphql(
            SIGNUP,
            json!({ "input": { "email": "Grace@Example.com", "name": "G", "password": PASSWORD, "planCode": "pro" } }),
            None,
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    assert_eq!(again["errors"][0]["extensions"]["reason"], "EMAIL_TAKEN");
    // Nothing half-written: still one developer and one license.
    assert_eq!(
        Licenses::find().count(&app.state.db).await.expect("count"),
        1
    );
}

#[tokio::test]
async fn unknown_plan_is_validation_on_plan_code() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            SIGNUP,
            json!({ "input": { "email": "x@example.com", "name": "X", "password": PASSWORD, "planCode": "platinum" } }),
            None,
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"));
    assert_eq!(body["errors"][0]["extensions"]["field"], "planCode");
    assert_eq!(
        Users::find().count(&app.state.db).await.expect("count"),
        1,
        "only the admin"
    );
}

#[tokio::test]
async fn bad_email_and_weak_password_are_validation_naming_the_field() {
    let app = spawn_app().await;
    for (email, password, field) in [
        ("not-an-email", PASSWORD, "email"),
        ("ok@example.com", "short", "password"),
        ("ok@example.com", "onlyletterslong", "password"),
    ] {
        let body = app
            .graphql(
                SIGNUP,
                json!({ "input": { "email": email, "name": "X", "password": password, "planCode": "solo" } }),
                None,
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn login_refuses_wrong_password_and_unknown_email_alike() {
    let app = spawn_app().await;
    app.signup("lin@example.com", "pro").await;

    let ok = app.login("LIN@example.com", PASSWORD).await;
    assert!(ok["data"]["login"]["accessToken"].is_string(), "{ok}");
    assert_eq!(ok["data"]["login"]["user"]["role"], "DEVELOPER");

    let wrong = app.login("lin@example.com", "wrong password 1").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(error_code(&unknown), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
}

#[tokio::test]
async fn developers_is_for_admins_only() {
    let app = spawn_app().await;
    let dev = app.developer("dev@example.com", "solo").await;
    let (token, id) = (dev.token.as_str(), dev.id);
    let query = "{ developers(first: 5) { totalCount edges { node { email } } } }";

    let as_developer = app.graphql(query, json!({}), Some(token)).await;
    assert_eq!(error_code(&as_developer), Some("FORBIDDEN"));
    let anonymous = app.graphql(query, json!({}), None).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));

    let one = app
        .graphql(
            "query($id: UUID!) { developer(id: $id) { email } }",
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&one), Some("FORBIDDEN"));
    let admin = app.admin_token().await;
    let one = app
        .graphql(
            "query($id: UUID!) { developer(id: $id) { email } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert_eq!(one["data"]["developer"]["email"], "dev@example.com");
}

#[tokio::test]
async fn developers_pages_and_filters_with_a_total_count() {
    let app = spawn_app().await;
    for (email, plan) in [
        ("a1@alpha.io", "solo"),
        ("a2@alpha.io", "pro"),
        ("a3@alpha.io", "solo"),
        ("b1@beta.io", "solo"),
    ] {
        app.signup(email, plan).await;
    }
    let admin = app.admin_token().await;
    let query = r#"query($first: Int, $after: String, $filter: DeveloperFilterInput) {
        developers(first: $first, after: $after, filter: $filter) {
            totalCount
            pageInfo { hasNextPage endCursor }
            edges { node { email licenses { plan { code } } } }
        }
    }"#;

    let page1 = app
        .graphql(
            query,
            json!({ "first": 2, "filter": { "emailContains": "ALPHA" } }),
            Some(&admin),
        )
        .await;
    let conn = &page1["data"]["developers"];
    assert_eq!(conn["totalCount"], 3, "{page1}");
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    assert_eq!(conn["edges"][0]["node"]["email"], "a1@alpha.io");
    assert_eq!(conn["edges"][1]["node"]["email"], "a2@alpha.io");

    let cursor = conn["pageInfo"]["endCursor"].as_str().expect("cursor");
    let page2 = app
        .graphql(
            query,
            json!({ "first": 2, "after": cursor, "filter": { "emailContains": "alpha" } }),
            Some(&admin),
        )
        .await;
    let conn = &page2["data"]["developers"];
    assert_eq!(conn["pageInfo"]["hasNextPage"], false);
    assert_eq!(conn["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(conn["edges"][0]["node"]["email"], "a3@alpha.io");

    let on_solo = app
        .graphql(
            query,
            json!({ "filter": { "planCode": "solo" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(on_solo["data"]["developers"]["totalCount"], 3, "{on_solo}");

    let future = app
        .graphql(
            query,
            json!({ "filter": { "createdAfter": "2999-01-01T00:00:00Z" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(future["data"]["developers"]["totalCount"], 0, "{future}");

    let too_many = app
        .graphql(query, json!({ "first": 101 }), Some(&admin))
        .await;
    assert_eq!(error_code(&too_many), Some("VALIDATION"));
    assert_eq!(too_many["errors"][0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn plans_are_public_with_their_entitlements() {
    let app = spawn_app().await;
    let body = app
        .graphql(
            "{ plans { code priceMinor currency entitlements { maxRuntimeNodes maxSeats dbType supportLevel } } }",
            json!({}),
            None,
        )
        .await;
    let codes: Vec<&str> = body["data"]["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    for code in [
        "free",
        "solo",
        "pro",
        "small_agency",
        "agency_pro",
        "enterprise",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let solo = app
        .graphql(
            "{ plan(code: \"solo\") { name trialDays entitlements { maxRuntimeNodes dbType } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(solo["data"]["plan"]["trialDays"], 14);
    assert_eq!(solo["data"]["plan"]["entitlements"]["dbType"], "SHARED");
}
