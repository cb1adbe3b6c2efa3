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
