//! Buying with nothing configured: the sandbox completes a checkout at once, through the same
//! events the payment provider would send, so checkout -> subscription -> invoice ->
//! transaction -> an active license on the plan bought works end to end over HTTP; then
//! cancelling, resuming and a change of plan billed through the subscription.

use crate::helpers::{Developer, TestApp, error_code, spawn_app};
use serde_json::{Value, json};

const CHECKOUT: &str = r#"mutation($plan: String!, $interval: BillingInterval! = MONTH) {
    createCheckoutSession(planCode: $plan, interval: $interval) { id url }
}"#;

const SUBSCRIPTIONS: &str = "{ subscriptions(first: 10) { edges { node { id provider status cancelAtPeriodEnd planPriceId currentPeriodEnd licenseId } } } }";

const MONEY: &str = "{ invoices(first: 10) { edges { node { status totalMinor currency number lines { description amountMinor } } } } transactions(first: 10) { edges { node { status amountMinor kind } } } }";

const LICENSE: &str =
    r#"query($id: UUID!) { license(id: $id) { state paymentState expiresAt plan { code } } }"#;

const CANCEL: &str = r#"mutation($now: Boolean! = true) { cancelSubscription(atPeriodEnd: $now) { status cancelAtPeriodEnd } }"#;

async fn checkout(app: &TestApp, token: &str, plan: &str) -> Value {
    app.graphql(
        CHECKOUT,
        json!({ "plan": plan, "interval": "MONTH" }),
        Some(token),
    )
    .await
}

async fn subscription(app: &TestApp, developer: &Developer) -> Value {
    let body = app
        .graphql(SUBSCRIPTIONS, json!({}), Some(&developer.token))
        .await;
    body["data"]["subscriptions"]["edges"][0]["node"].clone()
}

async fn license(app: &TestApp, developer: &Developer) -> Value {
    let body = app
        .graphql(
            LICENSE,
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    body["data"]["license"].clone()
}

async fn month_price(app: &TestApp, plan: &str) -> (Value, Value) {
    let body = app
        .graphql(
            "query($c: String!) { plan(code: $c) { prices { id interval amountMinor } } }",
            json!({ "c": plan }),
            None,
        )
        .await;
    let price = body["data"]["plan"]["prices"]
        .as_array()
        .and_then(|prices| prices.iter().find(|p| p["interval"] == "MONTH"))
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    (price["id"].clone(), price["amountMinor"].clone())
}

#[tokio::test]
async fn a_sandbox_checkout_makes_a_subscription_an_invoice_a_payment_and_an_active_license() {
    let app = spawn_app().await;
    let developer = app.developer("buyer@example.com", "solo").await;
    assert_eq!(license(&app, &developer).await["state"], "TRIALING");
    let (price_id, amount) = month_price(&app, "pro").await;

    let session = checkout(&app, &developer.token, "pro").await;
    let hosted = &session["data"]["createCheckoutSession"];
    assert!(
        hosted["url"]
            .as_str()
            .is_some_and(|url| url.contains("checkout=success") && url.contains("cs_sbx_")),
        "{session}"
    );

    let subscribed = subscription(&app, &developer).await;
    assert_eq!(subscribed["provider"], "sandbox", "{subscribed}");
    assert_eq!(subscribed["status"], "ACTIVE");
    assert_eq!(subscribed["planPriceId"], price_id);
    assert_eq!(subscribed["licenseId"], developer.license_id.to_string());

    let money = app.graphql(MONEY, json!({}), Some(&developer.token)).await;
    let invoices = money["data"]["invoices"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{money}"));
    assert_eq!(invoices.len(), 1, "{money}");
    assert_eq!(invoices[0]["node"]["status"], "PAID");
    assert_eq!(invoices[0]["node"]["totalMinor"], amount);
    assert_eq!(invoices[0]["node"]["lines"][0]["amountMinor"], amount);
    let payments = money["data"]["transactions"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{money}"));
    assert_eq!(payments.len(), 1, "{money}");
    assert_eq!(payments[0]["node"]["status"], "SUCCEEDED");
    assert_eq!(payments[0]["node"]["amountMinor"], amount);

    let bought = license(&app, &developer).await;
    assert_eq!(bought["state"], "ACTIVE", "{bought}");
    assert_eq!(bought["paymentState"], "ACTIVE");
    assert_eq!(bought["plan"]["code"], "pro");
    assert_eq!(bought["expiresAt"], subscribed["currentPeriodEnd"]);
    assert_eq!(app.validation_code(&developer.license_key).await, "VALID");

    // Every step went through the webhook handler: stored, none failed.
    let admin = app.admin_token().await;
    let failed = app
        .graphql(
            "{ failedWebhooks(first: 5) { totalCount } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        failed["data"]["failedWebhooks"]["totalCount"], 0,
        "{failed}"
    );

    let again = checkout(&app, &developer.token, "solo").await;
    assert_eq!(
        again["errors"][0]["extensions"]["reason"], "ALREADY_SUBSCRIBED",
        "{again}"
    );
}

#[tokio::test]
async fn only_a_developer_buys_and_only_what_is_on_sale_within_its_limits() {
    let app = spawn_app().await;
    let developer = app.developer("dev@example.com", "pro").await;
    let admin = app.admin_token().await;
    let by_admin = checkout(&app, &admin, "pro").await;
    assert_eq!(error_code(&by_admin), Some("FORBIDDEN"), "{by_admin}");
    let anonymous = app.graphql(CHECKOUT, json!({ "plan": "pro" }), None).await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    let unknown = checkout(&app, &developer.token, "nope").await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["field"], "planCode",
        "{unknown}"
    );
    let yearly = app
        .graphql(
            CHECKOUT,
            json!({ "plan": "pro", "interval": "YEAR" }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        yearly["errors"][0]["extensions"]["field"], "interval",
        "{yearly}"
    );
    // Two runtime nodes on pro; solo allows one.
    app.node(&developer.license_key, "fp-one").await;
    app.node(&developer.license_key, "fp-two").await;
    let over = checkout(&app, &developer.token, "solo").await;
    assert_eq!(error_code(&over), Some("QUOTA_EXCEEDED"), "{over}");
    assert!(subscription(&app, &developer).await.is_null());
    let portal = app
        .graphql(
            "mutation { createBillingPortalSession { url } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(error_code(&portal), Some("NOT_FOUND"), "{portal}");
}

#[tokio::test]
async fn a_subscription_is_cancelled_at_period_end_resumed_changed_and_cancelled_now() {
    let app = spawn_app().await;
    let developer = app.developer("sub@example.com", "solo").await;
    checkout(&app, &developer.token, "pro").await;

    let at_end = app.graphql(CANCEL, json!({}), Some(&developer.token)).await;
    assert_eq!(
        at_end["data"]["cancelSubscription"],
        json!({ "status": "ACTIVE", "cancelAtPeriodEnd": true }),
        "{at_end}"
    );
    assert_eq!(license(&app, &developer).await["state"], "ACTIVE");
    let resumed = app
        .graphql(
            "mutation { resumeSubscription { status cancelAtPeriodEnd } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        resumed["data"]["resumeSubscription"]["cancelAtPeriodEnd"], false,
        "{resumed}"
    );

    // A change of plan is billed through the subscription: its price follows.
    let (solo_price, _) = month_price(&app, "solo").await;
    let changed = app
        .graphql(
            r#"mutation($d: UUID!) { changePlan(developerId: $d, planCode: "solo") { license { plan { code } } } }"#,
            json!({ "d": developer.id }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        changed["data"]["changePlan"]["license"]["plan"]["code"], "solo",
        "{changed}"
    );
    assert_eq!(
        subscription(&app, &developer).await["planPriceId"],
        solo_price
    );

    let now = app
        .graphql(CANCEL, json!({ "now": false }), Some(&developer.token))
        .await;
    assert_eq!(
        now["data"]["cancelSubscription"]["status"], "CANCELED",
        "{now}"
    );
    assert_eq!(license(&app, &developer).await["state"], "CANCELLED");
    assert_eq!(
        app.validation_code(&developer.license_key).await,
        "CANCELLED"
    );
    let ended = app.graphql(CANCEL, json!({}), Some(&developer.token)).await;
    assert_eq!(error_code(&ended), Some("NOT_FOUND"), "{ended}");

    // Another developer cannot touch it.
    let other = app.developer("other@example.com", "solo").await;
    let id = app
        .graphql(SUBSCRIPTIONS, json!({}), Some(&developer.token))
        .await["data"]["subscriptions"]["edges"][0]["node"]["id"]
        .clone();
    let foreign = app
        .graphql(
            "mutation($s: UUID) { cancelSubscription(subscriptionId: $s) { status } }",
            json!({ "s": id }),
            Some(&other.token),
        )
        .await;
    assert_eq!(error_code(&foreign), Some("NOT_FOUND"), "{foreign}");
    let by_admin = app
        .graphql(
            "mutation($s: UUID) { cancelSubscription(subscriptionId: $s) { status } }",
            json!({ "s": id }),
            Some(&app.admin_token().await),
        )
        .await;
    assert_eq!(
        by_admin["errors"][0]["extensions"]["reason"], "SUBSCRIPTION_ENDED",
        "{by_admin}"
    );
}
