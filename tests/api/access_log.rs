//! The access log, read from a real gateway process: one line per request, naming the
//! operation and its error codes, and never a credential or a key.

use crate::helpers::{PASSWORD, fresh_database, spawn_app, spawn_gateway_process_with_piped_log};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const GUESSED_KEY: &str = "LOGME-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG";

/// The first `count` access lines the gateway writes to `stderr`, waiting up to ten seconds.
async fn access_lines(stderr: tokio::process::ChildStderr, count: usize) -> Vec<String> {
    let mut lines = BufReader::new(stderr).lines();
    let mut logged = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while logged.len() < count {
            match lines.next_line().await {
                Ok(Some(line)) if line.contains("graphql request") => logged.push(line),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    })
    .await;
    assert!(
        read.is_ok() && logged.len() == count,
        "{count} access lines: {logged:?}"
    );
    logged
}

#[tokio::test]
async fn each_request_is_one_line_with_its_operation_and_codes_and_no_secret() {
    let (database_url, _db) = fresh_database().await;
    let (mut child, address) = spawn_gateway_process_with_piped_log(
        &database_url,
        &[("RUST_LOG", "warn,gateway::access=info")],
    )
    .await;
    let stderr = child.stderr.take().expect("stderr");
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let request = client.post(format!("{address}/graphql")).json(&body);
        async move {
            request
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("body")
        }
    };
    post(json!({
        "query": "query($k: String!) { validateLicense(key: $k) { code } }",
        "variables": { "k": GUESSED_KEY }
    }))
    .await;
    post(json!({
        "query": "mutation SignIn($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        "variables": { "e": "nobody@example.com", "p": PASSWORD }
    }))
    .await;
    post(json!({ "query": "{ nosuchfield }" })).await;

    let logged = access_lines(stderr, 3).await;
    assert!(logged[0].contains("query validateLicense"), "{}", logged[0]);
    assert!(logged[0].contains("caller=anonymous"), "{}", logged[0]);
    assert!(logged[1].contains("mutation SignIn"), "{}", logged[1]);
    assert!(logged[1].contains("UNAUTHENTICATED"), "{}", logged[1]);
    assert!(
        logged[2].contains("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        logged[2]
    );
    let all = logged.join("\n");
    for secret in [GUESSED_KEY, "LOGME", PASSWORD, "nobody@example.com"] {
        assert!(!all.contains(secret), "{secret} leaked into the log: {all}");
    }
}

#[tokio::test]
async fn an_answer_replayed_from_an_idempotency_key_is_logged_too() {
    let app = spawn_app().await;
    let dev = app.developer("replayed@example.com", "pro").await;
    let (mut child, address) = spawn_gateway_process_with_piped_log(
        &app.database_url,
        &[("RUST_LOG", "warn,gateway::access=info")],
    )
    .await;
    let stderr = child.stderr.take().expect("stderr");
    let key = "retry-me-7f3a9c";
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let answer = client
            .post(format!("{address}/graphql"))
            .bearer_auth(&dev.token)
            .header("Idempotency-Key", key)
            .json(&json!({
                "query": "mutation Notes($id: UUID!) { updateLicense(id: $id, input: { notes: \"once\" }) { id } }",
                "variables": { "id": dev.license_id }
            }))
            .send()
            .await
            .expect("sent");
        assert_eq!(answer.status(), 200);
    }

    let logged = access_lines(stderr, 2).await;
    for line in &logged {
        assert!(line.contains("mutation Notes"), "{line}");
        assert!(line.contains(&format!("developer:{}", dev.id)), "{line}");
        assert!(!line.contains(key), "the key leaked into the log: {line}");
        assert!(!line.contains(&dev.token), "the token leaked: {line}");
    }
    assert!(!logged[0].contains("replayed"), "{}", logged[0]);
    assert!(
        logged[1].contains("answered from its idempotency key")
            && logged[1].contains("replayed=true"),
        "{}",
        logged[1]
    );
}
