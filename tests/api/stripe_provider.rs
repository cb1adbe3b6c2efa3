//! The payment provider's API as the gateway calls it, checked request by request against a
//! stand-in that answers as the provider documents: the secret key as a bearer token, form
//! fields, an idempotency key on every call and the same key on its one retry; the provider's
//! refusals passed on as VALIDATION without the key, its outages as SERVICE_UNAVAILABLE.

use crate::helpers::{
    Developer, Recorded, StripeStandIn, TestApp, error_code, post_signed_webhook, spawn_app_with,
};
use serde_json::{Value, json};

const KEY: &str = "sk_test_standin_0123456789";
const WEBHOOK_SECRET: &str = "whsec_standin_0123456789";
const RETURN: &str = "https://app.example.com/billing";

async fn stripe_app(standin: &StripeStandIn) -> TestApp {
    spawn_app_with(&[
        ("STRIPE_SECRET_KEY", KEY),
        ("STRIPE_API_URL", &standin.url),
        ("STRIPE_WEBHOOK_SECRETS", WEBHOOK_SECRET),
        ("BILLING_RETURN_URL", RETURN),
    ])
    .await
}

/// Gives `code`'s monthly price the provider's price id (a new version of the plan).
async fn sell_through_provider(app: &TestApp, admin: &str, code: &str, amount: i64) -> String {
    let body = app
        .graphql(
            r#"mutation($c: String!, $p: [PlanPriceInput!]!) { updatePlan(code: $c, input: { prices: $p }) { prices { id } } }"#,
            json!({ "c": code, "p": [{ "interval": "MONTH", "amountMinor": amount, "currency": "USD", "providerPriceId": format!("price_{code}_month") }] }),
            Some(admin),
        )
        .await;
    body["data"]["updatePlan"]["prices"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Every call carries the key as a bearer token, a form body and an idempotency key.
fn assert_documented(request: &Recorded) {
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str()),
        "{request:?}"
    );
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded"),
        "{request:?}"
    );
    assert!(
        request
            .idempotency_key
            .as_deref()
            .is_some_and(|key| key.len() >= 16),
        "{request:?}"
    );
}

fn last(standin: &StripeStandIn) -> Recorded {
    let requests = standin.requests();
    requests
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no request"))
}

async fn webhook(app: &TestApp, kind: &str, object: Value, created: i64) {
    let event = json!({
        "id": format!("evt_{kind}_{created}"), "type": kind, "created": created,
        "data": { "object": object },
    });
    let (status, body) = post_signed_webhook(app, &event, WEBHOOK_SECRET, created).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "processed", "{body}");
}

fn stripe_subscription(developer: &Developer, price: &str, cancel_at_end: bool, now: i64) -> Value {
    json!({
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "current_period_start": now, "current_period_end": now + 30 * 86_400,
        "cancel_at_period_end": cancel_at_end,
        "metadata": { "license_id": developer.license_id.to_string() },
        "items": { "data": [{ "id": "si_1", "price": { "id": price } }] },
    })
}

#[tokio::test]
async fn checkout_portal_cancel_resume_and_price_change_are_the_requests_the_provider_documents() {
    let standin = StripeStandIn::start().await;
    let app = stripe_app(&standin).await;
    let admin = app.admin_token().await;
    sell_through_provider(&app, &admin, "solo", 2_900).await;
    let pro_price = sell_through_provider(&app, &admin, "pro", 9_900).await;
    let developer = app.developer("stripe@example.com", "solo").await;

    // Checkout: the provider's page, for the license and the catalogue price.
    let session = app
        .graphql(
            r#"mutation { createCheckoutSession(planCode: "pro", interval: MONTH) { id url } }"#,
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        session["data"]["createCheckoutSession"],
        json!({ "id": "cs_test_1", "url": "https://checkout.stripe.com/c/pay/cs_test_1" }),
        "{session}"
    );
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    let license = developer.license_id.to_string();
    for (field, expected) in [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_pro_month"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", license.as_str()),
        ("metadata[license_id]", license.as_str()),
        ("metadata[plan_price_id]", pro_price.as_str()),
        ("subscription_data[metadata][license_id]", license.as_str()),
        ("customer_email", "stripe@example.com"),
        (
            "cancel_url",
            "https://app.example.com/billing?checkout=cancelled",
        ),
    ] {
        assert_eq!(request.field(field), Some(expected), "{field}: {request:?}");
    }
    assert_eq!(
        request.field("success_url"),
        Some("https://app.example.com/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}")
    );
    // Nothing is bought until the provider says so.
    let portal_before = app
        .graphql(
            "mutation { createBillingPortalSession { url } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        error_code(&portal_before),
        Some("NOT_FOUND"),
        "{portal_before}"
    );

    // The provider's events: the checkout completed, the subscription created.
    let now = app.state.clock.now().timestamp();
    webhook(
        &app,
        "checkout.session.completed",
        json!({ "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
                "customer": "cus_1", "subscription": "sub_1", "client_reference_id": license,
                "metadata": { "license_id": license, "plan_price_id": pro_price } }),
        now,
    )
    .await;
    webhook(
        &app,
        "customer.subscription.created",
        stripe_subscription(&developer, "price_pro_month", false, now),
        now,
    )
    .await;
    let bought = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { state plan { code } } }",
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        bought["data"]["license"],
        json!({ "state": "ACTIVE", "plan": { "code": "pro" } }),
        "{bought}"
    );

    let portal = app
        .graphql(
            "mutation { createBillingPortalSession { url } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        portal["data"]["createBillingPortalSession"]["url"],
        "https://billing.stripe.com/p/session/bps_1",
        "{portal}"
    );
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(request.path, "/v1/billing_portal/sessions");
    assert_eq!(request.field("customer"), Some("cus_1"));
    assert_eq!(request.field("return_url"), Some(RETURN));

    // Cancel at the period's end, then take it back once the provider confirms it.
    let cancelled = app
        .graphql(
            "mutation { cancelSubscription { id } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert!(cancelled["errors"].is_null(), "{cancelled}");
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/subscriptions/sub_1")
    );
    assert_eq!(request.field("cancel_at_period_end"), Some("true"));
    webhook(
        &app,
        "customer.subscription.updated",
        stripe_subscription(&developer, "price_pro_month", true, now + 1),
        now + 1,
    )
    .await;
    app.graphql(
        "mutation { resumeSubscription { id } }",
        json!({}),
        Some(&developer.token),
    )
    .await;
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(request.field("cancel_at_period_end"), Some("false"));

    // A plan change bills the new price on the subscription's item, prorated.
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
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(request.path, "/v1/subscriptions/sub_1");
    assert_eq!(request.field("items[0][id]"), Some("si_1"));
    assert_eq!(request.field("items[0][price]"), Some("price_solo_month"));
    assert_eq!(
        request.field("proration_behavior"),
        Some("create_prorations")
    );

    // Cancel now: DELETE.
    app.graphql(
        "mutation { cancelSubscription(atPeriodEnd: false) { id } }",
        json!({}),
        Some(&developer.token),
    )
    .await;
    let request = last(&standin);
    assert_documented(&request);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", "/v1/subscriptions/sub_1")
    );

    // Keys differ between calls.
    let keys: std::collections::HashSet<_> = standin
        .requests()
        .into_iter()
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), standin.requests().len());
}

#[tokio::test]
async fn an_outage_is_retried_once_under_the_same_key_and_a_refusal_is_passed_on_without_the_key() {
    let standin = StripeStandIn::start().await;
    let app = stripe_app(&standin).await;
    let admin = app.admin_token().await;
    sell_through_provider(&app, &admin, "pro", 9_900).await;
    let developer = app.developer("retry@example.com", "solo").await;
    let checkout = r#"mutation { createCheckoutSession(planCode: "pro") { url } }"#;

    standin.fail_next(
        500,
        json!({ "error": { "type": "api_error", "message": "try again" } }),
    );
    let retried = app
        .graphql(checkout, json!({}), Some(&developer.token))
        .await;
    assert!(retried["errors"].is_null(), "{retried}");
    let requests = standin.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].idempotency_key, requests[1].idempotency_key);

    standin.fail_next(503, json!({}));
    standin.fail_next(503, json!({}));
    let outage = app
        .graphql(checkout, json!({}), Some(&developer.token))
        .await;
    assert_eq!(error_code(&outage), Some("SERVICE_UNAVAILABLE"), "{outage}");

    standin.fail_next(
        400,
        json!({ "error": { "type": "invalid_request_error", "message": "No such price: 'price_pro_month'" } }),
    );
    let refused = app
        .graphql(checkout, json!({}), Some(&developer.token))
        .await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    assert!(refused.to_string().contains("No such price"), "{refused}");
    assert!(!refused.to_string().contains(KEY), "{refused}");

    // A price the provider does not sell is refused before it is asked.
    let asked = standin.requests().len();
    let unsold = app
        .graphql(
            r#"mutation { createCheckoutSession(planCode: "agency_pro") { url } }"#,
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(error_code(&unsold), Some("VALIDATION"), "{unsold}");
    assert_eq!(standin.requests().len(), asked);
}
