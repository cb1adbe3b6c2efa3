//! `licenseStatus`: running software opens a socket with its license key and is told its
//! standing at once and again, within a second, whenever a change alters it, from whichever
//! gateway made the change.

use crate::helpers::{
    TestApp, initialised_ws, receive, send_json, spawn_app, spawn_gateway_process,
    subscription_error,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const STATUS: &str = "subscription { licenseStatus { valid code detail license { id state } } }";

type Socket = crate::helpers::WsSocket;

async fn subscribe(app: &TestApp, key: &str, query: &str) -> Socket {
    let mut socket = initialised_ws(&app.ws_url(), Some(key)).await;
    send_json(
        &mut socket,
        json!({ "id": "s", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    socket
}

/// The next standing pushed, and how long it took.
async fn next_standing(socket: &mut Socket) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let message = receive(socket)
            .await
            .unwrap_or_else(|code| panic!("closed: {code:?}"));
        match message["type"].as_str() {
            Some("next") => {
                return (
                    message["payload"]["data"]["licenseStatus"].clone(),
                    started.elapsed(),
                );
            }
            Some("ping") => send_json(socket, json!({ "type": "pong" })).await,
            Some("error") => panic!("{message}"),
            _ => {}
        }
    }
}

async fn admin_move(
    app: &TestApp,
    at: Option<&str>,
    admin: &str,
    mutation: &str,
    license: uuid::Uuid,
) {
    let query = format!("mutation($id: UUID!) {{ {mutation}(id: $id) {{ state }} }}");
    let variables = json!({ "id": license });
    let body = match at {
        Some(address) => {
            app.graphql_at(address, &query, variables, Some(admin))
                .await
        }
        None => app.graphql(&query, variables, Some(admin)).await,
    };
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn running_software_is_told_its_standing_at_once_and_within_a_second_of_each_change() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("runtime@example.com", "pro").await;
    let mut socket = subscribe(&app, &developer.license_key, STATUS).await;

    let (first, _) = next_standing(&mut socket).await;
    assert_eq!(first["code"], "VALID", "{first}");
    assert_eq!(first["license"]["id"], json!(developer.license_id));

    admin_move(&app, None, &admin, "suspendLicense", developer.license_id).await;
    let (suspended, took) = next_standing(&mut socket).await;
    assert_eq!(suspended["code"], "SUSPENDED", "{suspended}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    admin_move(&app, None, &admin, "reinstateLicense", developer.license_id).await;
    let (back, took) = next_standing(&mut socket).await;
    assert_eq!(back["code"], "VALID", "{back}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A revocation ends the key: its standing arrives, then the socket closes.
    admin_move(&app, None, &admin, "revokeLicense", developer.license_id).await;
    let (revoked, took) = next_standing(&mut socket).await;
    assert_eq!(revoked["code"], "REVOKED", "{revoked}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let closed = loop {
        match receive(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(closed, Some(4403));
}

#[tokio::test]
async fn with_a_fingerprint_the_node_standing_is_pushed_too() {
    let app = spawn_app().await;
    let developer = app.developer("node-status@example.com", "pro").await;
    let query = r#"subscription { licenseStatus(fingerprint: "fp-status") { code } }"#;
    let mut socket = subscribe(&app, &developer.license_key, query).await;
    let (before, _) = next_standing(&mut socket).await;
    assert_eq!(before["code"], "NO_MACHINE", "{before}");
    app.activate_node(&developer.license_key, "fp-status").await;
    let (after, took) = next_standing(&mut socket).await;
    assert_eq!(after["code"], "VALID", "{after}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn only_a_license_key_opens_it() {
    let app = spawn_app().await;
    let developer = app.developer("user@example.com", "pro").await;
    let mut socket = subscribe(&app, &developer.token, STATUS).await;
    let message = loop {
        let message = receive(&mut socket)
            .await
            .unwrap_or_else(|code| panic!("closed: {code:?}"));
        if message["type"] != "ping" {
            break message;
        }
    };
    assert_eq!(
        subscription_error(&message)["code"],
        "FORBIDDEN",
        "{message}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_change_made_through_another_gateway_is_pushed_within_a_second() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("far@example.com", "pro").await;
    let (_child, other) = spawn_gateway_process(&app.database_url, &[]).await;
    let mut socket = subscribe(&app, &developer.license_key, STATUS).await;
    let (first, _) = next_standing(&mut socket).await;
    assert_eq!(first["code"], "VALID", "{first}");
    admin_move(
        &app,
        Some(&other),
        &admin,
        "suspendLicense",
        developer.license_id,
    )
    .await;
    let (suspended, took) = next_standing(&mut socket).await;
    assert_eq!(suspended["code"], "SUSPENDED", "{suspended}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}
