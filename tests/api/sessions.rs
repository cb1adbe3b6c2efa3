//! Sign-in sessions: refresh tokens that work once, a copy that gives itself away, and logging
//! out that holds at once, on every gateway.

use crate::helpers::{PASSWORD, TestApp, error_code, spawn_app, spawn_gateway_process};
use serde_json::{Value, json};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
    accessToken refreshToken user { email } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken user { email } } }";
const ME: &str = "{ me { email } }";

/// A fresh sign-in: (access token, refresh token).
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let body = app
        .graphql(LOGIN, json!({ "e": email, "p": PASSWORD }), None)
        .await;
    let login = &body["data"]["login"];
    let access = login["accessToken"].as_str().expect("access token");
    let refresh = login["refreshToken"].as_str().expect("refresh token");
    assert!(refresh.starts_with("rt_"), "{body}");
    (access.to_owned(), refresh.to_owned())
}

async fn me(app: &TestApp, address: &str, token: &str) -> Value {
    app.graphql_at(address, ME, json!({}), Some(token)).await
}

fn signed_in_as(body: &Value, email: &str) -> bool {
    body["data"]["me"]["email"] == email
}

#[tokio::test]
async fn a_refresh_token_works_once_and_a_copy_ends_the_whole_session() {
    let app = spawn_app().await;
    app.developer("fresh@example.com", "solo").await;
    let (access, refresh) = sign_in(&app, "fresh@example.com").await;
    let renewed = app.graphql(REFRESH, json!({ "t": refresh }), None).await;
    let pair = &renewed["data"]["refreshToken"];
    assert_eq!(pair["user"]["email"], "fresh@example.com", "{renewed}");
    let (new_access, new_refresh) = (
        pair["accessToken"].as_str().expect("access").to_owned(),
        pair["refreshToken"].as_str().expect("refresh").to_owned(),
    );
    assert_ne!(new_refresh, refresh);
    assert!(signed_in_as(
        &me(&app, &app.address, &new_access).await,
        "fresh@example.com"
    ));
    // The first refresh token again: someone holds a copy. Both sides lose the session.
    let replayed = app.graphql(REFRESH, json!({ "t": refresh }), None).await;
    assert_eq!(error_code(&replayed), Some("UNAUTHENTICATED"), "{replayed}");
    for token in [&access, &new_access] {
        let body = me(&app, &app.address, token).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    }
    let stolen = app
        .graphql(REFRESH, json!({ "t": new_refresh }), None)
        .await;
    assert_eq!(error_code(&stolen), Some("UNAUTHENTICATED"), "{stolen}");
    // Garbage is refused alike.
    let garbage = app.graphql(REFRESH, json!({ "t": "rt_nope" }), None).await;
    assert_eq!(error_code(&garbage), Some("UNAUTHENTICATED"), "{garbage}");
}

#[tokio::test]
async fn logging_out_ends_one_session_and_everywhere_ends_them_all() {
    let app = spawn_app().await;
    app.developer("leaving@example.com", "solo").await;
    let (laptop, _) = sign_in(&app, "leaving@example.com").await;
    let (phone, phone_refresh) = sign_in(&app, "leaving@example.com").await;
    let (tablet, _) = sign_in(&app, "leaving@example.com").await;
    let out = app
        .graphql("mutation { logout }", json!({}), Some(&laptop))
        .await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let after = me(&app, &app.address, &laptop).await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");
    assert!(signed_in_as(
        &me(&app, &app.address, &phone).await,
        "leaving@example.com"
    ));
    let everywhere = app
        .graphql("mutation { logoutEverywhere }", json!({}), Some(&tablet))
        .await;
    assert!(
        everywhere["data"]["logoutEverywhere"].as_u64() >= Some(2),
        "{everywhere}"
    );
    for token in [&phone, &tablet] {
        let body = me(&app, &app.address, token).await;
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    }
    let renewed = app
        .graphql(REFRESH, json!({ "t": phone_refresh }), None)
        .await;
    assert_eq!(error_code(&renewed), Some("UNAUTHENTICATED"), "{renewed}");
    // The trail records each ending.
    let (fresh, _) = sign_in(&app, "leaving@example.com").await;
    let trail = app
        .graphql(
            "{ auditEvents(filter: { typePrefix: \"session.\" }) { edges { node { type } } } }",
            json!({}),
            Some(&fresh),
        )
        .await;
    let kinds: Vec<&str> = trail["data"]["auditEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["node"]["type"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "session.ended").count(),
        2,
        "{kinds:?}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_session_ended_on_one_gateway_is_refused_by_another_at_once() {
    let app = spawn_app().await;
    app.developer("roaming@example.com", "solo").await;
    let (access, _) = sign_in(&app, "roaming@example.com").await;
    let (_child, there) = spawn_gateway_process(&app.database_url, &[]).await;
    // The other gateway has seen the session hold (and keeps that answer for a while).
    assert!(signed_in_as(
        &me(&app, &there, &access).await,
        "roaming@example.com"
    ));
    let out = app
        .graphql("mutation { logout }", json!({}), Some(&access))
        .await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let mut refused = false;
    for _ in 0..20 {
        if error_code(&me(&app, &there, &access).await) == Some("UNAUTHENTICATED") {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "the other gateway still took the ended session after 2 s"
    );
}
