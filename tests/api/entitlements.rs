use crate::helpers::{TestApp, error_code, spawn_app, spawn_gateway_process};
use entity::{audit_events, prelude::*};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ENTITLEMENTS: &str = r#"query($d: UUID) {
    entitlements(developerId: $d) { key kind value limit enabled source metric used remaining overrideExpiresAt }
}"#;

const OVERRIDE: &str = r#"mutation($d: UUID!, $k: String!, $v: JSON, $e: DateTime) {
    setEntitlementOverride(developerId: $d, key: $k, value: $v, expiresAt: $e) { key limit source }
}"#;

fn find<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("{key} listed in {list}"))
}

async fn entitlements(app: &TestApp, token: &str, developer: Option<&str>) -> Value {
    let body = app
        .graphql(ENTITLEMENTS, json!({ "d": developer }), Some(token))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["entitlements"].clone()
}

#[tokio::test]
async fn overrides_sit_on_the_plan_until_removed_and_every_change_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("grant@example.com", "pro").await;
    let (token, developer) = (dev.token.as_str(), dev.id);

    let own = entitlements(&app, token, None).await;
    let customers = find(&own, "max_customers");
    assert_eq!(customers["limit"], 10, "{customers}");
    assert_eq!(customers["source"], "PLAN");
    assert_eq!(customers["metric"], "instances");
    assert_eq!(customers["used"], 0);
    assert_eq!(customers["remaining"], 10);
    assert_eq!(find(&own, "monthly_mail_credits")["metric"], "mail_credits");
    assert_eq!(find(&own, "feature.sso")["enabled"], false);
    assert_eq!(find(&own, "support_level")["value"], "email");

    app.set_override(developer, "max_customers", json!(25))
        .await;
    let after = entitlements(&app, token, None).await;
    assert_eq!(find(&after, "max_customers")["limit"], 25);
    assert_eq!(find(&after, "max_customers")["source"], "OVERRIDE");
    app.set_override(developer, "max_seats", Value::Null).await;
    assert_eq!(
        find(&entitlements(&app, token, None).await, "max_seats")["limit"],
        Value::Null
    );

    let removed = app
        .graphql(
            r#"mutation($d: UUID!) { removeEntitlementOverride(developerId: $d, key: "max_customers") { key limit source } }"#,
            json!({ "d": developer }),
            Some(&admin),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");
    let back = entitlements(&app, token, None).await;
    assert_eq!(find(&back, "max_customers")["limit"], 10);
    assert_eq!(find(&back, "max_customers")["source"], "PLAN");

    let audited = AuditEvents::find()
        .filter(audit_events::Column::EventType.starts_with("entitlement."))
        .all(&app.state.db)
        .await
        .expect("audit");
    assert_eq!(audited.len(), 3, "two sets and a removal");
}

#[tokio::test]
async fn only_admins_set_overrides_and_values_must_fit_their_key() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("self@example.com", "pro").await;
    let (token, developer) = (dev.token.as_str(), dev.id);
    let other = app.developer("other@example.com", "pro").await;

    let body = app
        .graphql(
            OVERRIDE,
            json!({ "d": developer, "k": "max_customers", "v": 99 }),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    for (key, value) in [
        ("max_customers", json!("many")),
        ("max_customers", json!(-1)),
        ("feature.sso", json!(1)),
        ("support_level", json!("gold")),
        ("no_such_key", json!(1)),
        ("max_runtime_nodes", json!(9)),
    ] {
        let body = app
            .graphql(
                OVERRIDE,
                json!({ "d": developer, "k": key, "v": value }),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{key}: {body}");
    }
    let past = app
        .graphql(
            OVERRIDE,
            json!({ "d": developer, "k": "max_seats", "v": 3, "e": "2020-01-01T00:00:00Z" }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&past), Some("VALIDATION"), "{past}");
    let nosy = app
        .graphql(ENTITLEMENTS, json!({ "d": other.id }), Some(token))
        .await;
    assert_eq!(error_code(&nosy), Some("NOT_FOUND"), "{nosy}");
}

#[tokio::test]
async fn an_override_raises_the_instance_limit() {
    let app = spawn_app().await;
    let dev = app.developer("grow@example.com", "free").await; // free: one instance
    let (token, developer) = (dev.token.as_str(), dev.id);
    app.pool("db-grow.internal", "eu").await;
    let create = |sub: &'static str| {
        app.graphql(
            r#"mutation($s: String!) { createInstance(name: "S", subdomain: $s, region: "eu") { id } }"#,
            json!({ "s": sub }),
            Some(token),
        )
    };
    assert!(create("grow-one").await["errors"].is_null());
    assert_eq!(
        error_code(&create("grow-two").await),
        Some("QUOTA_EXCEEDED")
    );
    for key in ["max_customers", "max_workspaces"] {
        app.set_override(developer, key, json!(2)).await;
    }
    let second = create("grow-two").await;
    assert!(second["errors"].is_null(), "{second}");
}

#[tokio::test]
async fn feature_access_follows_plan_and_overrides_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let dev = app.developer("flags@example.com", "pro").await;
    let (token, key) = (dev.token.as_str(), dev.license_key.as_str());
    let check = |credential: String| {
        let app = &app;
        async move {
            let body = app
                .graphql(
                    r#"{ checkFeatureAccess(feature: "sso") { feature enabled source } }"#,
                    json!({}),
                    Some(&credential),
                )
                .await;
            body["data"]["checkFeatureAccess"].clone()
        }
    };
    assert_eq!(
        check(token.to_owned()).await,
        json!({ "feature": "sso", "enabled": false, "source": "PLAN" })
    );
    app.set_override(dev.id, "feature.sso", json!(true)).await;
    assert_eq!(
        check(token.to_owned()).await,
        json!({ "feature": "sso", "enabled": true, "source": "OVERRIDE" })
    );
    assert_eq!(
        check(key.to_owned()).await["enabled"],
        true,
        "a runtime node asks with its key"
    );
    let anonymous = app
        .graphql(
            r#"{ checkFeatureAccess(feature: "sso") { enabled } }"#,
            json!({}),
            None,
        )
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn another_gateway_process_sees_an_override_within_a_second() {
    let app = spawn_app().await;
    let dev = app.developer("spread@example.com", "pro").await;
    let (_child, other) = spawn_gateway_process(&app.database_url, &[]).await;
    let ask_other = || async {
        let body = app
            .graphql_at(
                &other,
                "{ entitlements { key limit } }",
                json!({}),
                Some(&dev.token),
            )
            .await;
        find(&body["data"]["entitlements"], "max_customers")["limit"].clone()
    };
    // The other process now holds the plan's value in its cache (TTL 30 s by default).
    assert_eq!(ask_other().await, 10);
    assert_eq!(ask_other().await, 10);

    app.set_override(dev.id, "max_customers", json!(40)).await;
    let changed = Instant::now();
    loop {
        if ask_other().await == 40 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "the other process still served the old value after a second"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
