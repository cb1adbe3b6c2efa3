//! A stand-in for the payment provider's API on a loopback port: it records every request
//! (method, path, the headers the provider reads, the form fields) and answers as the
//! provider documents, or with a failure the test scripts. And the provider's side of a
//! webhook: an event posted to the gateway signed as the provider signs it.

use super::TestApp;
use api::domain::billing::signature;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    /// The value of a form field, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct Script {
    requests: Vec<Recorded>,
    /// Failures to answer next, in order, before answering normally again.
    failures: VecDeque<(u16, Value)>,
}

#[derive(Clone, Default)]
pub struct StripeStandIn {
    script: Arc<Mutex<Script>>,
    pub url: String,
}

impl StripeStandIn {
    pub async fn start() -> Self {
        let mut standin = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        standin.url = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new().fallback(answer).with_state(standin.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        standin
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().expect("script").requests.clone()
    }

    /// The next request is answered with this status and body.
    pub fn fail_next(&self, status: u16, body: Value) {
        self.script
            .lock()
            .expect("script")
            .failures
            .push_back((status, body));
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn answer(
    State(standin): State<StripeStandIn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> impl IntoResponse {
    let path = uri.path().to_owned();
    let failure = {
        let mut script = standin.script.lock().expect("script");
        script.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            authorization: header(&headers, "authorization"),
            idempotency_key: header(&headers, "idempotency-key"),
            content_type: header(&headers, "content-type"),
            form,
        });
        script.failures.pop_front()
    };
    if let Some((status, body)) = failure {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        );
    }
    let body = match (method.as_str(), path.as_str()) {
        ("POST", "/v1/checkout/sessions") => json!({
            "id": "cs_test_1", "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_1",
        }),
        ("POST", "/v1/billing_portal/sessions") => json!({
            "id": "bps_1", "object": "billing_portal.session",
            "url": "https://billing.stripe.com/p/session/bps_1",
        }),
        (_, subscription) if subscription.starts_with("/v1/subscriptions/") => json!({
            "id": subscription.trim_start_matches("/v1/subscriptions/"),
            "object": "subscription",
        }),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(
                    json!({ "error": { "type": "invalid_request_error", "message": "Unrecognized request URL" } }),
                ),
            );
        }
    };
    (StatusCode::OK, Json(body))
}

/// Posts `event` to `/webhooks/stripe` signed with `secret` at `signed_at` (Unix seconds);
/// answers the status and body.
pub async fn post_signed_webhook(
    app: &TestApp,
    event: &Value,
    secret: &str,
    signed_at: i64,
) -> (u16, Value) {
    let body = event.to_string();
    let header = signature::sign(
        &SecretString::from(secret.to_owned()),
        signed_at,
        body.as_bytes(),
    );
    let response = app
        .post("/webhooks/stripe")
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
