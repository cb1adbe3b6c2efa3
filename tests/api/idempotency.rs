//! Safe retries: a mutation sent with an `Idempotency-Key` runs once for its caller and key; a
//! retry gets the first answer again, another request under the key is refused, and a key whose
//! first request is still running answers CONFLICT.

use crate::helpers::{TestApp, error_code, spawn_app};
use entity::prelude::*;
use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name } } }";

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) replayed: bool,
    pub(crate) body: Value,
}

/// `query` with `variables`, sent by `token` with `key` as its `Idempotency-Key`.
pub(crate) async fn keyed(
    app: &TestApp,
    key: Option<&str>,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Answer {
    let mut request = app
        .post("/graphql")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.expect("an answer");
    let status = answer.status().as_u16();
    let replayed = answer.headers().contains_key("idempotent-replayed");
    Answer {
        status,
        replayed,
        body: answer.json().await.expect("JSON"),
    }
}

fn named(name: &str) -> Value {
    json!({ "input": { "name": name, "scopes": ["licenses:read"] } })
}

async fn tokens_made(app: &TestApp) -> u64 {
    ApiTokens::find()
        .count(&app.state.db)
        .await
        .expect("tokens counted")
}

#[tokio::test]
async fn a_retry_answers_the_first_answer_and_does_nothing_again() {
    let app = spawn_app().await;
    let dev = app.developer("retry@example.com", "pro").await;
    let key = "5f0c8a52-retry";

    let first = keyed(&app, Some(key), Some(&dev.token), CREATE, named("sync")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.replayed);
    let token = first.body["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", first.body))
        .to_owned();

    let again = keyed(&app, Some(key), Some(&dev.token), CREATE, named("sync")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.replayed, "the retry ran again: {}", again.body);
    assert_eq!(again.body, first.body, "the retry got another answer");
    assert_eq!(tokens_made(&app).await, 1);

    // The answer holds a secret shown once: it is kept sealed, and the key only as a digest.
    let kept = IdempotencyKeys::find()
        .all(&app.state.db)
        .await
        .expect("keys read");
    assert_eq!(kept.len(), 1);
    let stored = format!("{:?}", kept[0]);
    assert!(!stored.contains(&token), "the token is stored in the clear");
    assert!(!stored.contains(key), "the key is stored in the clear");

    // Without a key, or with a new one, the same request is a new one.
    let fresh = keyed(
        &app,
        Some("another-key"),
        Some(&dev.token),
        CREATE,
        named("sync"),
    )
    .await;
    assert!(!fresh.replayed);
    assert_ne!(fresh.body, first.body);
    keyed(&app, None, Some(&dev.token), CREATE, named("sync")).await;
    assert_eq!(tokens_made(&app).await, 3);
}

#[tokio::test]
async fn a_key_sent_with_another_request_is_refused_and_keys_are_the_callers_own() {
    let app = spawn_app().await;
    let dev = app.developer("mismatch@example.com", "pro").await;
    let other = app.developer("other-caller@example.com", "pro").await;
    let key = "order-42";

    let first = keyed(&app, Some(key), Some(&dev.token), CREATE, named("one")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let changed = keyed(&app, Some(key), Some(&dev.token), CREATE, named("two")).await;
    assert_eq!(changed.status, 422, "{}", changed.body);
    assert_eq!(
        error_code(&changed.body),
        Some("IDEMPOTENCY_KEY_MISMATCH"),
        "{}",
        changed.body
    );
    assert!(changed.body["data"].is_null());

    // Another caller's same key is its own: its request runs and gets its own answer.
    let theirs = keyed(&app, Some(key), Some(&other.token), CREATE, named("one")).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(!theirs.replayed);
    assert_ne!(theirs.body, first.body);
    assert_eq!(tokens_made(&app).await, 2);
}

#[tokio::test]
async fn twenty_requests_at_once_with_one_key_do_the_work_once() {
    let app = spawn_app().await;
    let dev = app.developer("stampede@example.com", "pro").await;
    let key = "stampede-1";

    let answers =
        join_all((0..20).map(|_| keyed(&app, Some(key), Some(&dev.token), CREATE, named("once"))))
            .await;
    assert_eq!(
        tokens_made(&app).await,
        1,
        "the work was done more than once"
    );
    let mut made = None;
    for answer in &answers {
        match answer.status {
            200 => {
                let token = &answer.body["data"]["createApiToken"]["token"];
                assert!(token.is_string(), "{}", answer.body);
                // Every answer given is the one first answer.
                assert_eq!(made.get_or_insert(token.clone()), token);
            }
            409 => {
                assert_eq!(
                    error_code(&answer.body),
                    Some("CONFLICT"),
                    "{}",
                    answer.body
                );
                assert_eq!(
                    answer.body["errors"][0]["extensions"]["reason"],
                    "IDEMPOTENCY_KEY_IN_FLIGHT"
                );
            }
            other => panic!("answered {other}: {}", answer.body),
        }
    }
    let first = made.expect("one request did the work");
    let retry = keyed(&app, Some(key), Some(&dev.token), CREATE, named("once")).await;
    assert!(retry.replayed, "{}", retry.body);
    assert_eq!(retry.body["data"]["createApiToken"]["token"], first);
}

#[tokio::test]
async fn keys_need_a_caller_and_a_sane_shape_and_leave_queries_alone() {
    let app = spawn_app().await;
    let dev = app.developer("shape@example.com", "pro").await;

    let anonymous = keyed(
        &app,
        Some("anon-1"),
        None,
        "mutation { login(email: \"a@example.com\", password: \"whatever-it-is\") { accessToken } }",
        json!({}),
    )
    .await;
    assert_eq!(anonymous.status, 400, "{}", anonymous.body);
    assert_eq!(error_code(&anonymous.body), Some("VALIDATION"));
    assert_eq!(
        anonymous.body["errors"][0]["extensions"]["field"],
        "Idempotency-Key"
    );

    for bad in ["", &"k".repeat(256), "has space"] {
        let refused = keyed(&app, Some(bad), Some(&dev.token), CREATE, named("x")).await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.body);
        assert_eq!(error_code(&refused.body), Some("VALIDATION"), "{bad:?}");
    }
    assert_eq!(tokens_made(&app).await, 0);

    // A query with a key runs as any query does: nothing is kept for it.
    let query = "{ apiTokens(first: 5) { edges { node { id } } } }";
    let read = keyed(&app, Some("read-1"), Some(&dev.token), query, json!({})).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(!read.replayed);
    let kept = IdempotencyKeys::find()
        .count(&app.state.db)
        .await
        .expect("keys counted");
    assert_eq!(kept, 0);
}
