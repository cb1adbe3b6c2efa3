//! Payment webhooks as the provider sends them: signed, repeated, out of order, failing; and
//! the license following the money, through grace to expiry on the test clock.

use crate::helpers::{
    Developer, Subscription, TestApp, error_code, post_signed_webhook, spawn_app_with,
};
use entity::{audit_events, prelude::*};
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "whsec_test_0123456789abcdef";

const DAY: i64 = 24 * 3600;

async fn billing_app() -> TestApp {
    spawn_app_with(&[
        ("TEST_CLOCK", "true"),
        (
            "STRIPE_WEBHOOK_SECRETS",
            &format!("whsec_retired_0000,{SECRET}"),
        ),
    ])
    .await
}

async fn post_signed(app: &TestApp, event: &Value, secret: &str, signed_at: i64) -> (u16, Value) {
    post_signed_webhook(app, event, secret, signed_at).await
}

async fn post(app: &TestApp, event: &Value) -> (u16, Value) {
    post_signed(app, event, SECRET, app.state.clock.now().timestamp()).await
}

fn subscription(id: &str, kind: &str, created: i64, status: &str, license: &Developer) -> Value {
    json!({
        "id": id, "type": kind, "created": created,
        "data": { "object": {
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
            "current_period_start": created, "current_period_end": created + 30 * DAY,
            "cancel_at_period_end": false,
            "metadata": { "license_id": license.license_id.to_string() },
        } }
    })
}

fn invoice(id: &str, kind: &str, created: i64) -> Value {
    json!({
        "id": id, "type": kind, "created": created,
        "data": { "object": {
            "id": format!("in_{id}"), "object": "invoice", "subscription": "sub_1",
            "period_start": created, "period_end": created + 30 * DAY,
        } }
    })
}

async fn license_state(app: &TestApp, developer: &Developer) -> (Value, Value) {
    let body = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { state paymentState } }",
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    let license = &body["data"]["license"];
    (license["state"].clone(), license["paymentState"].clone())
}

async fn stored(app: &TestApp) -> u64 {
    WebhookEvents::find()
        .count(&app.state.db)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_failed_payment_makes_the_license_overdue_and_grace_ends_in_expiry() {
    let app = billing_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("payer@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    let (status, answer) = post(
        &app,
        &subscription(
            "evt_1",
            "customer.subscription.created",
            now,
            "active",
            &developer,
        ),
    )
    .await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("processed")),
        "{answer}"
    );
    assert_eq!(
        license_state(&app, &developer).await,
        (json!("ACTIVE"), json!("ACTIVE"))
    );

    let mut events = Subscription::open(
        &app.ws_url(),
        Some(&developer.token),
        "subscription { licenseEvents { type licenseId } }",
    )
    .await;
    let (status, answer) = post(&app, &invoice("evt_2", "invoice.payment_failed", now + 1)).await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("processed")),
        "{answer}"
    );
    assert_eq!(
        license_state(&app, &developer).await,
        (json!("PAST_DUE"), json!("PAST_DUE"))
    );
    assert_eq!(app.validation_code(&developer.license_key).await, "OVERDUE");
    let pushed = events
        .next_message(Duration::from_secs(5))
        .await
        .expect("an event");
    assert_eq!(
        pushed["payload"]["data"]["licenseEvents"]["type"], "license.state_changed",
        "{pushed}"
    );

    let advance = "mutation($s: Int!) { advanceTestClock(seconds: $s) { ran { job rows } } }";
    let later = app
        .graphql(advance, json!({ "s": 8 * DAY }), Some(&admin))
        .await;
    assert!(later["errors"].is_null(), "{later}");
    assert_eq!(license_state(&app, &developer).await.0, json!("EXPIRED"));
    assert_eq!(app.validation_code(&developer.license_key).await, "EXPIRED");

    let rules: Vec<String> = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(developer.license_id))
        .filter(audit_events::Column::EventType.eq("license.state_changed"))
        .all(&app.state.db)
        .await
        .expect("trail")
        .iter()
        .map(|e| e.metadata["rule"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        rules,
        [
            "payment:customer.subscription.created",
            "payment:invoice.payment_failed",
            "grace_ended"
        ]
    );
}

#[tokio::test]
async fn the_same_event_twenty_times_at_once_has_one_effect() {
    let app = billing_app().await;
    let developer = app.developer("twenty@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    post(
        &app,
        &subscription(
            "evt_1",
            "customer.subscription.created",
            now,
            "active",
            &developer,
        ),
    )
    .await;
    let failed = invoice("evt_2", "invoice.payment_failed", now + 1);
    let answers = join_all((0..20).map(|_| post(&app, &failed))).await;
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["outcome"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    outcomes.sort();
    outcomes.dedup_by(|a, b| a == b);
    assert_eq!(outcomes, ["duplicate", "processed"]);
    let moves = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(developer.license_id))
        .filter(audit_events::Column::EventType.eq("license.state_changed"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(
        moves, 2,
        "the subscription's move and the failure's, once each"
    );
    assert_eq!(stored(&app).await, 2);
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_changes_nothing() {
    let app = billing_app().await;
    let developer = app.developer("order@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    let newer = subscription(
        "evt_new",
        "customer.subscription.updated",
        now,
        "past_due",
        &developer,
    );
    let older = subscription(
        "evt_old",
        "customer.subscription.updated",
        now - 60,
        "active",
        &developer,
    );
    assert_eq!(post(&app, &newer).await.1["outcome"], "processed");
    assert_eq!(post(&app, &older).await.1["outcome"], "ignored");
    assert_eq!(license_state(&app, &developer).await.0, json!("PAST_DUE"));
    // An older paid invoice is money all the same, recorded; it does not move the license.
    let stale_paid = invoice("evt_paid_old", "invoice.payment_succeeded", now - 30);
    assert_eq!(post(&app, &stale_paid).await.1["outcome"], "processed");
    assert_eq!(license_state(&app, &developer).await.0, json!("PAST_DUE"));
    let paid = invoice("evt_paid", "invoice.payment_succeeded", now + 5);
    assert_eq!(post(&app, &paid).await.1["outcome"], "processed");
    assert_eq!(
        license_state(&app, &developer).await,
        (json!("ACTIVE"), json!("ACTIVE"))
    );
}

#[tokio::test]
async fn bad_signatures_old_timestamps_and_malformed_bodies_are_400_and_store_nothing() {
    let app = billing_app().await;
    let developer = app.developer("forged@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    let event = subscription(
        "evt_1",
        "customer.subscription.created",
        now,
        "canceled",
        &developer,
    );
    let (status, _) = post_signed(&app, &event, "whsec_wrong", now).await;
    assert_eq!(status, 400);
    let (status, _) = post_signed(&app, &event, SECRET, now - 301).await;
    assert_eq!(status, 400);
    let unsigned = app
        .post("/webhooks/stripe")
        .body(event.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(unsigned.status().as_u16(), 400);
    for malformed in [
        json!({ "id": "evt_x" }),
        json!([1, 2]),
        json!({ "id": "evt\u{0}", "type": "x", "created": now, "data": { "object": {} } }),
    ] {
        let (status, body) = post(&app, &malformed).await;
        assert_eq!(status, 400, "{malformed}: {body}");
    }
    assert_eq!(stored(&app).await, 0);
    assert_eq!(license_state(&app, &developer).await.0, json!("TRIALING"));
    // The retired secret still signs while it is configured.
    let (status, _) = post_signed(&app, &event, "whsec_retired_0000", now).await;
    assert_eq!(status, 200);
}

const FAILED: &str = "{ failedWebhooks(first: 10) { totalCount edges { node { id eventId type status attempts lastError nextAttemptAt } } } }";

#[tokio::test]
async fn a_failing_handler_is_kept_and_retried_once_its_cause_is_fixed() {
    let app = billing_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("early@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    // The invoice arrives before the subscription it belongs to.
    let early = invoice("evt_early", "invoice.payment_failed", now);
    let (status, answer) = post(&app, &early).await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("failed")),
        "{answer}"
    );
    let (_, again) = post(&app, &early).await;
    assert_eq!(
        again["outcome"], "duplicate",
        "a dead letter is not handled twice"
    );
    let listed = app.graphql(FAILED, json!({}), Some(&admin)).await;
    let letter = &listed["data"]["failedWebhooks"]["edges"][0]["node"];
    assert_eq!(letter["eventId"], "evt_early", "{listed}");
    assert!(
        letter["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("not seen yet")),
        "{listed}"
    );
    let by_developer = app.graphql(FAILED, json!({}), Some(&developer.token)).await;
    assert_eq!(error_code(&by_developer), Some("FORBIDDEN"));

    // Retried too early it fails again, and says so.
    let retry =
        "mutation($id: UUID!) { retryFailedWebhook(id: $id) { status attempts lastError } }";
    let too_soon = app
        .graphql(retry, json!({ "id": letter["id"] }), Some(&admin))
        .await;
    assert_eq!(
        too_soon["data"]["retryFailedWebhook"]["status"], "FAILED",
        "{too_soon}"
    );
    assert_eq!(too_soon["data"]["retryFailedWebhook"]["attempts"], 2);

    post(
        &app,
        &subscription(
            "evt_sub",
            "customer.subscription.created",
            now - 10,
            "active",
            &developer,
        ),
    )
    .await;
    let done = app
        .graphql(retry, json!({ "id": letter["id"] }), Some(&admin))
        .await;
    assert_eq!(
        done["data"]["retryFailedWebhook"]["status"], "PROCESSED",
        "{done}"
    );
    assert_eq!(license_state(&app, &developer).await.0, json!("PAST_DUE"));
    let listed = app.graphql(FAILED, json!({}), Some(&admin)).await;
    assert_eq!(
        listed["data"]["failedWebhooks"]["totalCount"], 0,
        "{listed}"
    );

    // The scheduler retries a due letter by itself; an admin may give one up.
    let orphan = invoice("evt_orphan", "invoice.payment_succeeded", now);
    let mut orphan = orphan;
    orphan["data"]["object"]["subscription"] = json!("sub_unknown");
    assert_eq!(post(&app, &orphan).await.1["outcome"], "failed");
    let advance = "mutation { advanceTestClock(seconds: 3600) { ran { job rows error } } }";
    let ran = app.graphql(advance, json!({}), Some(&admin)).await;
    let retries = ran["data"]["advanceTestClock"]["ran"]
        .as_array()
        .expect("ran")
        .iter()
        .find(|r| r["job"] == "WEBHOOK_RETRIES")
        .cloned()
        .unwrap_or_else(|| panic!("{ran}"));
    assert_eq!(retries["rows"], 0, "tried, still failing: {ran}");
    let listed = app.graphql(FAILED, json!({}), Some(&admin)).await;
    let letter = &listed["data"]["failedWebhooks"]["edges"][0]["node"];
    assert_eq!(letter["attempts"], 2, "{listed}");
    let discard = "mutation($id: UUID!) { discardFailedWebhook(id: $id) { status } }";
    let gone = app
        .graphql(discard, json!({ "id": letter["id"] }), Some(&admin))
        .await;
    assert_eq!(
        gone["data"]["discardFailedWebhook"]["status"], "DISCARDED",
        "{gone}"
    );
    let audited = AuditEvents::find()
        .filter(audit_events::Column::EventType.eq("webhook.discarded"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(audited, 1, "giving a dead letter up is audited");
    let listed = app.graphql(FAILED, json!({}), Some(&admin)).await;
    assert_eq!(
        listed["data"]["failedWebhooks"]["totalCount"], 0,
        "{listed}"
    );
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_and_acknowledged() {
    let app = billing_app().await;
    let now = app.state.clock.now().timestamp();
    let event = json!({ "id": "evt_unknown", "type": "radar.early_fraud_warning.created", "created": now, "data": { "object": {} } });
    let (status, answer) = post(&app, &event).await;
    assert_eq!(
        (status, &answer["outcome"]),
        (200, &json!("ignored")),
        "{answer}"
    );
    assert_eq!(stored(&app).await, 1);
}

fn subscription_for(sub: &str, customer: &str, created: i64, license: &Developer) -> Value {
    let mut event = subscription(
        &format!("evt_{sub}"),
        "customer.subscription.created",
        created,
        "active",
        license,
    );
    event["data"]["object"]["id"] = json!(sub);
    event["data"]["object"]["customer"] = json!(customer);
    event
}

fn paid_invoice(n: usize, sub: &str, created: i64, amount: i64, currency: &str) -> Value {
    json!({
        "id": format!("evt_paid_{n}"), "type": "invoice.payment_succeeded", "created": created,
        "data": { "object": {
            "id": format!("in_{n}"), "object": "invoice", "subscription": sub,
            "number": format!("INV-{n:04}"), "currency": currency, "total": amount,
            "amount_paid": amount, "charge": format!("ch_{n}"),
            "period_start": created, "period_end": created + 30 * DAY,
            "lines": { "data": [{ "description": "Pro plan", "amount": amount, "quantity": 1 }] },
        } }
    })
}

/// (month, currency) and (transactions, revenue, paying customers).
type ReportLine = ((String, String), (i64, i64, usize));

const TRANSACTIONS: &str = "query($d: UUID) { transactions(developerId: $d, first: 100) { totalCount edges { node { developerId status amountMinor currency occurredAt } } } }";

#[tokio::test]
async fn payments_are_recorded_and_the_revenue_report_adds_them_up() {
    let app = billing_app().await;
    let admin = app.admin_token().await;
    let ada = app.developer("ada@example.com", "pro").await;
    let bob = app.developer("bob@example.com", "pro").await;
    let now = app.state.clock.now().timestamp();
    post(
        &app,
        &subscription_for("sub_ada", "cus_ada", now - 200 * DAY, &ada),
    )
    .await;
    post(
        &app,
        &subscription_for("sub_bob", "cus_bob", now - 200 * DAY, &bob),
    )
    .await;
    let payments = [
        ("sub_ada", 90, 4_900, "usd"),
        ("sub_ada", 60, 4_900, "usd"),
        ("sub_ada", 30, 4_900, "usd"),
        ("sub_bob", 60, 9_900, "usd"),
        ("sub_bob", 60, 9_900, "eur"),
        ("sub_bob", 1, 9_900, "usd"),
    ];
    for (n, (sub, days_ago, amount, currency)) in payments.iter().enumerate() {
        let event = paid_invoice(n, sub, now - days_ago * DAY, *amount, currency);
        let (status, answer) = post(&app, &event).await;
        assert_eq!(
            (status, &answer["outcome"]),
            (200, &json!("processed")),
            "{answer}"
        );
    }
    // A refund takes a payment out of the revenue; a failed attempt never counted.
    let refund = json!({ "id": "evt_refund", "type": "charge.refunded", "created": now,
        "data": { "object": { "id": "ch_3", "object": "charge", "invoice": "in_3" } } });
    assert_eq!(post(&app, &refund).await.1["outcome"], "processed");
    let failed = json!({ "id": "evt_fail", "type": "invoice.payment_failed", "created": now,
        "data": { "object": { "id": "in_9", "subscription": "sub_ada", "currency": "usd", "total": 4900, "amount_due": 4900 } } });
    assert_eq!(post(&app, &failed).await.1["outcome"], "processed");

    let own = app.graphql(TRANSACTIONS, json!({}), Some(&ada.token)).await;
    let own_rows = own["data"]["transactions"]["edges"]
        .as_array()
        .expect("rows")
        .clone();
    assert_eq!(
        own_rows.len(),
        4,
        "ada's three payments and her failed attempt: {own}"
    );
    assert!(
        own_rows
            .iter()
            .all(|e| e["node"]["developerId"] == ada.id.to_string())
    );
    let theirs = app
        .graphql(TRANSACTIONS, json!({ "d": ada.id }), Some(&bob.token))
        .await;
    assert_eq!(error_code(&theirs), Some("NOT_FOUND"), "{theirs}");
    let invoices = app
        .graphql("{ invoices(first: 10) { edges { node { number status totalMinor lines { description amountMinor } } } } }", json!({}), Some(&bob.token))
        .await;
    let bobs = invoices["data"]["invoices"]["edges"]
        .as_array()
        .expect("invoices");
    assert_eq!(bobs.len(), 3, "{invoices}");
    assert!(bobs.iter().all(|i| i["node"]["status"] == "PAID" && i["node"]["lines"][0]["amountMinor"] == 9_900));

    // The report equals what the transactions add up to, month by month and currency.
    let all = app.graphql(TRANSACTIONS, json!({}), Some(&admin)).await;
    let mut expected: std::collections::BTreeMap<
        (String, String),
        (i64, i64, std::collections::BTreeSet<String>),
    > = Default::default();
    for edge in all["data"]["transactions"]["edges"]
        .as_array()
        .expect("rows")
    {
        let node = &edge["node"];
        if node["status"] != "SUCCEEDED" {
            continue;
        }
        let month = format!("{}-01", &node["occurredAt"].as_str().expect("time")[..7]);
        let entry = expected
            .entry((
                month,
                node["currency"].as_str().expect("currency").to_owned(),
            ))
            .or_default();
        entry.0 += 1;
        entry.1 += node["amountMinor"].as_i64().expect("amount");
        entry
            .2
            .insert(node["developerId"].as_str().expect("id").to_owned());
    }
    let from = chrono::DateTime::from_timestamp(now - 120 * DAY, 0).expect("time");
    let to = chrono::DateTime::from_timestamp(now + DAY, 0).expect("time");
    let report = app
        .graphql(
            "query($f: DateTime!, $t: DateTime!) { revenueReport(from: $f, to: $t, granularity: MONTH) { periodStart currency transactions revenueMinor payingCustomers } }",
            json!({ "f": from, "t": to }),
            Some(&admin),
        )
        .await;
    let got: Vec<ReportLine> = report["data"]["revenueReport"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|p| {
            (
                (
                    p["periodStart"].as_str().expect("period").to_owned(),
                    p["currency"].as_str().expect("c").to_owned(),
                ),
                (
                    p["transactions"].as_i64().expect("n"),
                    p["revenueMinor"].as_i64().expect("r"),
                    p["payingCustomers"].as_u64().expect("p") as usize,
                ),
            )
        })
        .collect();
    let want: Vec<ReportLine> = expected
        .into_iter()
        .map(|(key, (n, revenue, payers))| (key, (n, revenue, payers.len())))
        .collect();
    assert_eq!(got, want, "{report}");
    assert_eq!(
        want.iter().map(|(_, (n, _, _))| n).sum::<i64>(),
        5,
        "six payments, one refunded"
    );
    let by_developer = app
        .graphql(
            "query($f: DateTime!, $t: DateTime!) { revenueReport(from: $f, to: $t) { currency } }",
            json!({ "f": from, "t": to }),
            Some(&ada.token),
        )
        .await;
    assert_eq!(
        error_code(&by_developer),
        Some("FORBIDDEN"),
        "{by_developer}"
    );
}

#[tokio::test]
async fn handled_webhooks_are_pruned_after_their_retention_and_dead_letters_kept() {
    let app = spawn_app_with(&[
        ("TEST_CLOCK", "true"),
        ("STRIPE_WEBHOOK_SECRETS", SECRET),
        ("RETENTION_WEBHOOK_DAYS", "30"),
    ])
    .await;
    let admin = app.admin_token().await;
    let now = app.state.clock.now().timestamp();
    let ignored = json!({ "id": "evt_old", "type": "radar.early_fraud_warning.created", "created": now, "data": { "object": {} } });
    assert_eq!(post(&app, &ignored).await.1["outcome"], "ignored");
    let orphan = invoice("evt_orphan", "invoice.payment_failed", now);
    assert_eq!(post(&app, &orphan).await.1["outcome"], "failed");
    let advance = "mutation($s: Int!) { advanceTestClock(seconds: $s) { ran { job rows } } }";
    let early = app
        .graphql(advance, json!({ "s": 29 * DAY }), Some(&admin))
        .await;
    assert!(early["errors"].is_null(), "{early}");
    assert_eq!(stored(&app).await, 2);
    let late = app
        .graphql(advance, json!({ "s": 2 * DAY }), Some(&admin))
        .await;
    let retention = late["data"]["advanceTestClock"]["ran"]
        .as_array()
        .expect("ran")
        .iter()
        .find(|r| r["job"] == "RETENTION")
        .map(|r| r["rows"].clone());
    assert_eq!(retention, Some(json!(1)), "{late}");
    let left = WebhookEvents::find()
        .all(&app.state.db)
        .await
        .expect("rows");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event_id, "evt_orphan", "the dead letter stays");
}

#[tokio::test]
async fn subscription_metrics_count_where_subscriptions_stand_churn_and_mrr() {
    let app = billing_app().await;
    let admin = app.admin_token().await;
    let now = app.state.clock.now().timestamp();
    let statuses = [
        ("ada", "active"),
        ("bob", "past_due"),
        ("cy", "canceled"),
        ("di", "trialing"),
        ("ed", "active"),
    ];
    for (name, status) in statuses {
        let developer = app.developer(&format!("{name}@example.com"), "pro").await;
        let mut event = subscription_for(
            &format!("sub_{name}"),
            &format!("cus_{name}"),
            now,
            &developer,
        );
        event["data"]["object"]["status"] = json!(status);
        assert_eq!(post(&app, &event).await.1["outcome"], "processed");
    }
    let from = chrono::DateTime::from_timestamp(now - DAY, 0).expect("time");
    let to = chrono::DateTime::from_timestamp(now + DAY, 0).expect("time");
    let query = "query($f: DateTime!, $t: DateTime!) { subscriptionMetrics(from: $f, to: $t) { active trialing pastDue churned mrr { currency amountMinor } } }";
    let metrics = app
        .graphql(query, json!({ "f": from, "t": to }), Some(&admin))
        .await;
    assert_eq!(
        metrics["data"]["subscriptionMetrics"],
        json!({ "active": 2, "trialing": 1, "pastDue": 1, "churned": 1,
                "mrr": [{ "currency": "usd", "amountMinor": 9_800 }] }),
        "{metrics}"
    );
    let before = chrono::DateTime::from_timestamp(now - 10 * DAY, 0).expect("time");
    let earlier = app
        .graphql(query, json!({ "f": before, "t": from }), Some(&admin))
        .await;
    assert_eq!(
        earlier["data"]["subscriptionMetrics"]["churned"], 0,
        "{earlier}"
    );
}
