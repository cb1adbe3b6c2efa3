//! The graphql-transport-ws protocol's own rules, over a real socket: how a connection that
//! breaks them is closed, and that a well-behaved one still gets its events.

use crate::helpers::{
    TestApp, WsSocket, connect_graphql_ws, initialised_ws, receive, send_json, spawn_app,
    spawn_app_with,
};
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const EVENTS: &str = "subscription { licenseEvents { type licenseId } }";

async fn connect(app: &TestApp) -> WsSocket {
    connect_graphql_ws(&app.ws_url()).await
}

#[tokio::test]
async fn a_refused_connection_init_closes_with_4403() {
    let app = spawn_app().await;
    let mut socket = connect(&app).await;
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await, Err(Some(4403)));
}

#[tokio::test]
async fn subscribing_before_the_ack_closes_with_4401() {
    let app = spawn_app().await;
    let mut socket = connect(&app).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENTS } }),
    )
    .await;
    assert_eq!(receive(&mut socket).await, Err(Some(4401)));
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let app = spawn_app_with(&[("WS_INIT_TIMEOUT_SECONDS", "1")]).await;
    let mut socket = connect(&app).await;
    assert_eq!(receive(&mut socket).await, Err(Some(4408)));
}

#[tokio::test]
async fn malformed_and_repeated_messages_close_with_their_codes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut garbled = initialised_ws(&app.ws_url(), Some(&admin)).await;
    garbled
        .send(Message::text("{ this is not json"))
        .await
        .expect("send");
    assert_eq!(receive(&mut garbled).await, Err(Some(4400)));

    let mut twice = initialised_ws(&app.ws_url(), Some(&admin)).await;
    send_json(&mut twice, json!({ "type": "connection_init" })).await;
    assert_eq!(receive(&mut twice).await, Err(Some(4429)));
}

#[tokio::test]
async fn an_id_in_use_closes_with_4409_and_a_running_subscription_still_delivers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut socket = initialised_ws(&app.ws_url(), Some(&admin)).await;
    let subscribe = json!({ "id": "events", "type": "subscribe", "payload": { "query": EVENTS } });
    send_json(&mut socket, subscribe.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let created = app.signup("watched@example.com", "solo").await;
    let event = receive(&mut socket).await.expect("an event");
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["id"], "events");
    assert_eq!(
        event["payload"]["data"]["licenseEvents"]["licenseId"],
        created["license"]["id"]
    );

    send_json(&mut socket, subscribe).await;
    assert_eq!(receive(&mut socket).await, Err(Some(4409)));
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let app = spawn_app_with(&[("JWT_TTL_SECONDS", "2")]).await;
    let admin = app.admin_token().await;
    let mut socket = initialised_ws(&app.ws_url(), Some(&admin)).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENTS } }),
    )
    .await;
    let started = std::time::Instant::now();
    // Nothing is published: the next thing the socket carries is its close, at the token's end.
    assert_eq!(receive(&mut socket).await, Err(Some(4403)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(4),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn a_subscription_ends_when_its_session_does() {
    let app = spawn_app().await;
    let dev = app.developer("socket@example.com", "solo").await;
    let mut socket = initialised_ws(&app.ws_url(), Some(&dev.token)).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENTS } }),
    )
    .await;
    // Another session of the same account ending leaves this one open.
    let other = app
        .login("socket@example.com", crate::helpers::PASSWORD)
        .await;
    let other_token = other["data"]["login"]["accessToken"]
        .as_str()
        .expect("token");
    let out = app
        .graphql("mutation { logout }", json!({}), Some(other_token))
        .await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    send_json(&mut socket, json!({ "type": "ping" })).await;
    let pong = receive(&mut socket).await.map(|m| m["type"].clone());
    assert_eq!(pong, Ok(json!("pong")), "still open");
    let out = app
        .graphql("mutation { logout }", json!({}), Some(&dev.token))
        .await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    assert_eq!(receive(&mut socket).await, Err(Some(4403)));
}

/// Sends a ping; answers whether the socket still answers it.
async fn still_open(socket: &mut WsSocket) -> bool {
    send_json(socket, json!({ "type": "ping" })).await;
    receive(socket).await.map(|m| m["type"].clone()) == Ok(json!("pong"))
}

const CREATE_TOKEN: &str = r#"mutation($i: UUID!) {
    createInstanceToken(instanceId: $i, name: "socket") { token instanceToken { id } }
}"#;

#[tokio::test]
async fn a_socket_closes_when_its_instance_token_is_revoked_and_others_stay() {
    let app = spawn_app().await;
    let (developer, instance) = app
        .developer_with_instance("tokens@example.com", "pro")
        .await;
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let created = app
            .graphql(
                CREATE_TOKEN,
                json!({ "i": instance }),
                Some(&developer.token),
            )
            .await;
        let created = &created["data"]["createInstanceToken"];
        tokens.push((
            created["token"].as_str().expect("token").to_owned(),
            created["instanceToken"]["id"].clone(),
        ));
    }
    let mut revoked_socket = initialised_ws(&app.ws_url(), Some(&tokens[0].0)).await;
    let mut kept_socket = initialised_ws(&app.ws_url(), Some(&tokens[1].0)).await;
    let revoked = app
        .graphql(
            "mutation($id: UUID!) { revokeInstanceToken(id: $id) { revokedAt } }",
            json!({ "id": tokens[0].1 }),
            Some(&developer.token),
        )
        .await;
    assert!(revoked["errors"].is_null(), "{revoked}");
    assert_eq!(receive(&mut revoked_socket).await, Err(Some(4403)));
    assert!(
        still_open(&mut kept_socket).await,
        "the other token's socket"
    );

    // Deleting the instance ends every token it had.
    let deleted = app
        .graphql(
            "mutation($id: UUID!) { deleteInstance(id: $id) { status } }",
            json!({ "id": instance }),
            Some(&developer.token),
        )
        .await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    assert_eq!(receive(&mut kept_socket).await, Err(Some(4403)));
}

#[tokio::test]
async fn a_socket_closes_when_its_license_key_is_replaced_or_revoked() {
    let app = spawn_app().await;
    let developer = app.developer("keys@example.com", "pro").await;
    let mut old_key = initialised_ws(&app.ws_url(), Some(&developer.license_key)).await;
    assert!(still_open(&mut old_key).await);
    let rekeyed = app
        .graphql(
            "mutation($id: UUID!) { regenerateLicenseKey(id: $id) { licenseKey } }",
            json!({ "id": developer.license_id }),
            Some(&developer.token),
        )
        .await;
    let new_key = rekeyed["data"]["regenerateLicenseKey"]["licenseKey"]
        .as_str()
        .unwrap_or_else(|| panic!("rekeyed: {rekeyed}"))
        .to_owned();
    assert_eq!(receive(&mut old_key).await, Err(Some(4403)));

    let mut new_socket = initialised_ws(&app.ws_url(), Some(&new_key)).await;
    assert!(still_open(&mut new_socket).await);
    let admin = app.admin_token().await;
    let revoked = app
        .graphql(
            "mutation($id: UUID!) { revokeLicense(id: $id) { state } }",
            json!({ "id": developer.license_id }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        revoked["data"]["revokeLicense"]["state"], "REVOKED",
        "{revoked}"
    );
    assert_eq!(receive(&mut new_socket).await, Err(Some(4403)));
}
