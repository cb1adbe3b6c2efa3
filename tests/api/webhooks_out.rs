//! Webhooks out: a receiver on a loopback port checks every signature with its own HMAC, sees a
//! failed attempt retried, gets each event once per endpoint that wants it and nothing else;
//! deliveries are listed, sent again and tried; internal addresses are refused unless allowed;
//! an endpoint that keeps failing is disabled and its owner told; nobody reaches another's.

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use data_encoding::BASE64;
use entity::{mail_outbox, prelude::*};
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Deliveries go out at once, and failures come back within a second.
const QUICK: &[(&str, &str)] = &[
    ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
    ("WEBHOOK_POLL_MILLIS", "100"),
    ("WEBHOOK_RETRY_BASE_SECONDS", "1"),
];

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret webhookEndpoint { id url eventTypes enabled } } }";
const UPDATE_NOTES: &str =
    "mutation($id: UUID!, $n: String) { updateLicense(id: $id, input: { notes: $n }) { id } }";
const DELIVERIES: &str = "query($e: UUID) { webhookDeliveries(endpointId: $e) { totalCount edges { node { id webhookId eventType status attempts responseStatusCode latencyMs nextAttemptAt lastError payload attemptHistory { deliveryId number attemptedAt succeeded responseStatusCode latencyMs error } } } } }";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on a loopback port: records every request; paths starting with `/flaky`
/// answer 500 the first time they see a message id and 200 after, `/down` always 500, the
/// rest 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let app = Router::new().fallback(receive).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, address)
    }

    fn at(&self, path: &str) -> Vec<Received> {
        let got = self.got.lock().expect("lock");
        got.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits (a few seconds at most) until `path` has had `count` requests.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.at(path);
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        path: uri.path().to_owned(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    };
    let mut got = receiver.got.lock().expect("lock");
    let seen_before = got
        .iter()
        .any(|r| r.path == received.path && r.id == received.id);
    let path = received.path.clone();
    got.push(received);
    if path == "/down" || (path.starts_with("/flaky") && !seen_before) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// The receiver's own check of a request, as the Standard Webhooks specification gives it:
/// HMAC-SHA256 under the base64-decoded secret after `whsec_`, over `{id}.{timestamp}.{body}`.
fn verifies(secret: &str, request: &Received) -> bool {
    let key = BASE64
        .decode(secret.trim_start_matches("whsec_").as_bytes())
        .expect("a base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{}.{}.", request.id, request.timestamp).as_bytes());
    mac.update(&request.body);
    let expected = format!("v1,{}", BASE64.encode(&mac.finalize().into_bytes()));
    let fresh = request
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    fresh
        && request
            .signature
            .split(' ')
            .any(|candidate| candidate == expected)
}

/// An endpoint of `token` at `url` for `types`: its id and secret.
async fn endpoint(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "url": url, "eventTypes": types, "description": "test" } }),
            Some(token),
        )
        .await;
    let made = &out["data"]["createWebhookEndpoint"];
    let secret = made["secret"].as_str().unwrap_or_else(|| panic!("{out}"));
    let id = made["webhookEndpoint"]["id"].as_str().expect("id");
    (id.to_owned(), secret.to_owned())
}

async fn deliveries(app: &TestApp, token: &str, endpoint: &str) -> Vec<Value> {
    let out = app
        .graphql(DELIVERIES, json!({ "e": endpoint }), Some(token))
        .await;
    out["data"]["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn attempt_history(delivery: &Value) -> Vec<Value> {
    delivery["attemptHistory"]
        .as_array()
        .unwrap_or_else(|| panic!("{delivery}"))
        .clone()
}

/// The attempt numbers in the history of the endpoint's one delivery, newest first, once it
/// holds `count` of them (the worker records an attempt just after the receiver answers it).
async fn wait_for_attempts(app: &TestApp, token: &str, endpoint: &str, count: usize) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = deliveries(app, token, endpoint).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        let numbers: Vec<i64> = attempt_history(&listed[0])
            .iter()
            .filter_map(|a| a["number"].as_i64())
            .collect();
        if numbers.len() >= count || Instant::now() > deadline {
            return numbers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_reach_each_matching_endpoint_once_signed_and_retried_after_a_failure() {
    let app = spawn_app_with(QUICK).await;
    let (receiver, base) = Receiver::start().await;
    let dev = app.developer("hooks@example.com", "pro").await;
    let other = app.developer("elsewhere@example.com", "pro").await;
    let (flaky, flaky_secret) =
        endpoint(&app, &dev.token, &format!("{base}/flaky"), &["license.*"]).await;
    let (steady, steady_secret) = endpoint(
        &app,
        &dev.token,
        &format!("{base}/steady?token=abc"),
        &["license.updated"],
    )
    .await;
    let (elsewhere, _) = endpoint(
        &app,
        &dev.token,
        &format!("{base}/instances"),
        &["instance.*"],
    )
    .await;
    endpoint(&app, &other.token, &format!("{base}/other"), &["*"]).await;

    let out = app
        .graphql(
            UPDATE_NOTES,
            json!({ "id": dev.license_id, "n": "hooked" }),
            Some(&dev.token),
        )
        .await;
    assert!(out["errors"].is_null(), "{out}");

    // The flaky endpoint answers 500, then 200 to the retry; the steady one 200 at once.
    let flaky_got = receiver.wait_for("/flaky", 2).await;
    let steady_got = receiver.wait_for("/steady", 1).await;
    assert_eq!(flaky_got.len(), 2, "{flaky_got:?}");
    assert_eq!(steady_got.len(), 1, "{steady_got:?}");
    for request in &flaky_got {
        assert!(verifies(&flaky_secret, request), "{request:?}");
        assert!(
            !verifies(&steady_secret, request),
            "each endpoint has its own secret"
        );
    }
    assert!(verifies(&steady_secret, &steady_got[0]));
    // One message id for the event: on every attempt and at every endpoint.
    assert_eq!(flaky_got[0].id, flaky_got[1].id);
    assert_eq!(flaky_got[0].id, steady_got[0].id);
    let body = steady_got[0].json();
    assert_eq!(body["type"], "license.updated", "{body}");
    assert_eq!(body["entityId"], json!(dev.license_id));
    assert_eq!(body["id"], json!(steady_got[0].id));

    // Nothing for an endpoint of other types, nor for another developer's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.at("/instances").is_empty());
    assert!(receiver.at("/other").is_empty());
    assert_eq!(
        receiver.at("/flaky").len(),
        2,
        "delivered once it succeeded"
    );

    // Listed with status, attempts, the answer and its latency.
    let listed = deliveries(&app, &dev.token, &flaky).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let delivery = &listed[0];
    assert_eq!(delivery["status"], "SUCCEEDED", "{delivery}");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["responseStatusCode"], 200);
    assert!(delivery["latencyMs"].is_number(), "{delivery}");
    assert!(delivery["nextAttemptAt"].is_null());
    assert_eq!(delivery["webhookId"], json!(flaky_got[0].id));
    // And each attempt in its history, newest first: the 500, then the success.
    let history = attempt_history(delivery);
    assert_eq!(
        history
            .iter()
            .map(|a| a["number"].clone())
            .collect::<Vec<_>>(),
        [json!(2), json!(1)],
        "{delivery}"
    );
    let (succeeded, failed) = (&history[0], &history[1]);
    assert_eq!(succeeded["succeeded"], true, "{succeeded}");
    assert_eq!(succeeded["responseStatusCode"], 200);
    assert!(succeeded["error"].is_null(), "{succeeded}");
    assert_eq!(failed["succeeded"], false, "{failed}");
    assert_eq!(failed["responseStatusCode"], 500);
    assert_eq!(failed["error"], "answered HTTP 500");
    for attempt in &history {
        assert_eq!(attempt["deliveryId"], delivery["id"], "{attempt}");
        assert!(attempt["latencyMs"].is_number(), "{attempt}");
    }
    assert!(
        failed["attemptedAt"].as_str() <= succeeded["attemptedAt"].as_str(),
        "{history:?}"
    );

    // Sent again: the same message id, signed again.
    let steady_delivery = deliveries(&app, &dev.token, &steady).await[0]["id"].clone();
    let resent = app
        .graphql(
            "mutation($d: UUID!) { resendWebhook(deliveryId: $d) { id status } }",
            json!({ "d": steady_delivery }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(
        resent["data"]["resendWebhook"]["status"], "PENDING",
        "{resent}"
    );
    let again = receiver.wait_for("/steady", 2).await;
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].id, again[0].id);
    assert!(verifies(&steady_secret, &again[1]));
    // The resend's attempt follows the first in the same delivery's history.
    let numbers = wait_for_attempts(&app, &dev.token, &steady, 2).await;
    assert_eq!(numbers, [2, 1]);

    // Tried: a `webhook.test` event to that endpoint only, whatever types it asked for.
    let tested = app
        .graphql(
            "mutation($e: UUID!) { testWebhookEndpoint(id: $e) { eventType status } }",
            json!({ "e": elsewhere }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(
        tested["data"]["testWebhookEndpoint"]["eventType"], "webhook.test",
        "{tested}"
    );
    let test_got = receiver.wait_for("/instances", 1).await;
    assert_eq!(test_got.len(), 1);
    assert_eq!(test_got[0].json()["type"], "webhook.test");

    // Another developer sees none of it and changes none of it.
    let theirs = app
        .graphql(
            "{ webhookEndpoints { totalCount } webhookDeliveries { totalCount } }",
            json!({}),
            Some(&other.token),
        )
        .await;
    assert_eq!(
        theirs["data"]["webhookEndpoints"]["totalCount"], 1,
        "{theirs}"
    );
    assert_eq!(
        theirs["data"]["webhookDeliveries"]["totalCount"], 0,
        "{theirs}"
    );
    for (query, variables) in [
        (DELIVERIES, json!({ "e": flaky })),
        (
            "mutation($e: UUID!) { updateWebhookEndpoint(id: $e, input: { enabled: false }) { id } }",
            json!({ "e": flaky }),
        ),
        (
            "mutation($e: UUID!) { deleteWebhookEndpoint(id: $e) { id } }",
            json!({ "e": flaky }),
        ),
        (
            "mutation($e: UUID!) { rotateWebhookSecret(id: $e) { secret } }",
            json!({ "e": flaky }),
        ),
        (
            "mutation($d: UUID!) { resendWebhook(deliveryId: $d) { id } }",
            json!({ "d": steady_delivery }),
        ),
    ] {
        let refused = app.graphql(query, variables, Some(&other.token)).await;
        assert_eq!(
            error_code(&refused),
            Some("NOT_FOUND"),
            "{query}: {refused}"
        );
    }
    // And the secret appears in no answer but the one that made it.
    let mine = app
        .graphql(
            "{ webhookEndpoints { edges { node { id url eventTypes } } } }",
            json!({}),
            Some(&dev.token),
        )
        .await;
    assert!(!mine.to_string().contains(&flaky_secret));
}

#[tokio::test]
async fn internal_addresses_and_unknown_inputs_are_refused() {
    let app = spawn_app().await;
    let dev = app.developer("careful@example.com", "pro").await;
    let field = |body: &Value| body["errors"][0]["extensions"]["field"].clone();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest",
        "ftp://example.com/hook",
        "https://user:pass@example.com/hook",
    ] {
        let out = app
            .graphql(
                CREATE,
                json!({ "input": { "url": url, "eventTypes": ["*"] } }),
                Some(&dev.token),
            )
            .await;
        assert_eq!(error_code(&out), Some("VALIDATION"), "{url}: {out}");
        assert_eq!(field(&out), "url", "{url}: {out}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "url": long, "eventTypes": ["*"] } }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(field(&out), "url", "{out}");
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "url": "https://93.184.216.34/hook", "eventTypes": ["mail.queued"] } }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(field(&out), "eventTypes", "{out}");
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told() {
    let mut settings = QUICK.to_vec();
    settings.extend([
        ("WEBHOOK_RETRY_FOR_SECONDS", "60"),
        ("WEBHOOK_DISABLE_AFTER_SECONDS", "1"),
    ]);
    let app = spawn_app_with(&settings).await;
    let (receiver, base) = Receiver::start().await;
    let dev = app.developer("unlucky@example.com", "pro").await;
    let (down, _) = endpoint(&app, &dev.token, &format!("{base}/down"), &["license.*"]).await;
    let (notices, secret) = endpoint(
        &app,
        &dev.token,
        &format!("{base}/notices"),
        &["webhook_endpoint.disabled"],
    )
    .await;
    app.graphql(
        UPDATE_NOTES,
        json!({ "id": dev.license_id, "n": "x" }),
        Some(&dev.token),
    )
    .await;

    // Told on its other endpoint, signed like any event.
    let told = receiver.wait_for("/notices", 1).await;
    assert_eq!(told.len(), 1, "{:?}", receiver.at("/down"));
    assert!(verifies(&secret, &told[0]));
    let notice = told[0].json();
    assert_eq!(notice["type"], "webhook_endpoint.disabled");
    assert_eq!(notice["data"]["endpointId"], json!(down));

    let shown = app
        .graphql(
            "query($e: UUID!) { webhookEndpoint(id: $e) { enabled disabledReason failingSince } }",
            json!({ "e": down }),
            Some(&dev.token),
        )
        .await;
    let shown = &shown["data"]["webhookEndpoint"];
    assert_eq!(shown["enabled"], false, "{shown}");
    assert_eq!(shown["disabledReason"], "FAILING");
    let listed = deliveries(&app, &dev.token, &down).await;
    assert_eq!(listed[0]["status"], "DEAD", "{listed:?}");
    assert_eq!(listed[0]["responseStatusCode"], 500);
    assert!(deliveries(&app, &dev.token, &notices).await[0]["status"] == "SUCCEEDED");

    // And mailed.
    let mail = MailOutbox::find()
        .filter(mail_outbox::Column::Kind.eq("webhook_endpoint_disabled"))
        .all(&app.state.db)
        .await
        .expect("mail");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].recipient, "unlucky@example.com");
}

#[tokio::test]
async fn an_admins_endpoint_gets_each_developers_events_and_sent_webhooks_go_after_retention() {
    let mut settings = QUICK.to_vec();
    settings.extend([
        ("TEST_CLOCK", "true"),
        ("RETENTION_WEBHOOK_DAYS", "30"),
        ("EVENT_LOG_RETENTION_DAYS", "365"),
    ]);
    let app = spawn_app_with(&settings).await;
    let (receiver, base) = Receiver::start().await;
    let admin = app.admin_token().await;
    let dev = app.developer("watched@example.com", "pro").await;
    let (everyone, _) = endpoint(&app, &admin, &format!("{base}/all"), &["license.updated"]).await;
    let (own, _) = endpoint(
        &app,
        &dev.token,
        &format!("{base}/own"),
        &["license.updated"],
    )
    .await;

    let out = app
        .graphql(
            UPDATE_NOTES,
            json!({ "id": dev.license_id, "n": "watched" }),
            Some(&dev.token),
        )
        .await;
    assert!(out["errors"].is_null(), "{out}");
    assert_eq!(receiver.wait_for("/all", 1).await.len(), 1);
    assert_eq!(receiver.wait_for("/own", 1).await.len(), 1);
    let sent = loop {
        let listed = deliveries(&app, &admin, &everyone).await;
        if listed.first().is_some_and(|d| d["status"] == "SUCCEEDED") {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sent_id = sent[0]["id"].clone();
    assert_eq!(attempt_history(&sent[0]).len(), 1, "{sent:?}");
    // Once to each endpoint, however many branches could have matched it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.at("/all").len(), 1);
    assert_eq!(deliveries(&app, &dev.token, &own).await.len(), 1);

    let advance = "mutation($s: Int!) { advanceTestClock(seconds: $s) { now } }";
    let day = 24 * 3600;
    let kept = app
        .graphql(advance, json!({ "s": 29 * day }), Some(&admin))
        .await;
    assert!(kept["errors"].is_null(), "{kept}");
    let listed = deliveries(&app, &admin, &everyone).await;
    assert!(listed.iter().any(|d| d["id"] == sent_id), "{listed:?}");
    app.graphql(advance, json!({ "s": 2 * day }), Some(&admin))
        .await;
    let listed = deliveries(&app, &admin, &everyone).await;
    assert!(
        !listed.iter().any(|d| d["id"] == sent_id),
        "a delivered webhook outlived its retention: {listed:?}"
    );
    // Its attempts went with it; the developer's own delivery's too.
    let attempts = WebhookAttempts::find()
        .all(&app.state.db)
        .await
        .expect("attempts");
    assert!(attempts.is_empty(), "{attempts:?}");
}

#[tokio::test]
async fn a_delivery_still_failing_when_its_retry_window_ends_is_dead_lettered() {
    let mut settings = QUICK.to_vec();
    settings.extend([
        ("WEBHOOK_RETRY_FOR_SECONDS", "2"),
        ("WEBHOOK_DISABLE_AFTER_SECONDS", "86400"),
    ]);
    let app = spawn_app_with(&settings).await;
    let (receiver, base) = Receiver::start().await;
    let dev = app.developer("window@example.com", "pro").await;
    let (down, _) = endpoint(&app, &dev.token, &format!("{base}/down"), &["license.*"]).await;
    app.graphql(
        UPDATE_NOTES,
        json!({ "id": dev.license_id, "n": "x" }),
        Some(&dev.token),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let dead = loop {
        let listed = deliveries(&app, &dev.token, &down).await;
        if listed.first().is_some_and(|d| d["status"] == "DEAD") {
            break listed[0].clone();
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tried = dead["attempts"].as_i64().unwrap_or_default();
    assert!(tried >= 1, "{dead}");
    assert_eq!(receiver.at("/down").len() as i64, tried, "{dead}");
    assert!(dead["nextAttemptAt"].is_null(), "{dead}");
    assert_eq!(dead["responseStatusCode"], 500);
    // Given up on, not retried again, and the endpoint (failing for less than a day) stays on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.at("/down").len() as i64, tried);
    let shown = app
        .graphql(
            "query($e: UUID!) { webhookEndpoint(id: $e) { enabled } }",
            json!({ "e": down }),
            Some(&dev.token),
        )
        .await;
    assert_eq!(shown["data"]["webhookEndpoint"]["enabled"], true, "{shown}");
}
