//! Backpressure: a subscriber that falls further behind than the gateway keeps for it is closed
//! with 1013 and resumes from its last cursor with nothing missed, while a subscriber keeping up
//! on the same gateway receives everything; a socket whose client stops reading is dropped.

use crate::helpers::{Subscription, TestApp, WsSocket, next_json, send_json, spawn_app_with};
use api::auth::Actor;
use api::events::{Event, UnitOfWork};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// Events published at once, each large enough that together they overflow every buffer
/// between the gateway and a client that does not read.
const BURST: usize = 600;
const NOTE_BYTES: usize = 20_000;

fn subscription(license_id: Uuid, after: Option<&str>) -> String {
    let after = after
        .map(|c| format!(", after: \"{c}\""))
        .unwrap_or_default();
    format!(
        "subscription {{ licenseEvents(licenseId: \"{license_id}\"{after}) {{ cursor type data }} }}"
    )
}

/// A subscriber whose socket takes in little at a time (a small receive buffer), reading only
/// when the test says so.
async fn reluctant_subscriber(app: &TestApp, token: &str, query: &str) -> WsSocket {
    let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
    tcp.set_recv_buffer_size(4096).expect("receive buffer");
    let address = format!("127.0.0.1:{}", app.port).parse().expect("address");
    let stream = tcp.connect(address).await.expect("connect");
    let mut request = app.ws_url().into_client_request().expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("ws handshake");
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    send_json(&mut socket, init).await;
    let ack = next_json(&mut socket).await.expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    send_json(&mut socket, subscribe).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    socket
}

/// Events committed at once within the burst, and the pause between commits.
const COMMIT: usize = 40;
const PAUSE: Duration = Duration::from_millis(100);

/// `BURST` large events about the license, committed `COMMIT` at a time with a pause between:
/// a subscriber that reads keeps up even on a loaded machine (the gateway's reader hands the log
/// on as fast as it can read it; a burst committed at once could overrun any subscriber), one
/// that does not read falls further behind with every commit.
async fn burst(app: &TestApp, license_id: Uuid, developer_id: Uuid) {
    let actor = Actor::system(&app.state);
    for start in (0..BURST).step_by(COMMIT) {
        let mut uow = UnitOfWork::begin(&actor).await.expect("begin");
        for n in start..(start + COMMIT).min(BURST) {
            uow.publish(Event {
                kind: "license.note".into(),
                entity_id: license_id,
                developer_id: Some(developer_id),
                data: json!({ "n": n, "note": "x".repeat(NOTE_BYTES) }),
            });
        }
        uow.commit().await.expect("commit");
        tokio::time::sleep(PAUSE).await;
    }
}

/// How a socket read to its end went.
#[derive(Debug, PartialEq)]
enum Ending {
    Closed(u16),
    Dropped,
    StillOpen,
}

/// The cursors a socket receives until it ends, and how it ended.
async fn read_until_closed(socket: &mut WsSocket) -> (Vec<String>, Ending) {
    let mut cursors = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
        let ending = match frame {
            Err(_) => Ending::StillOpen,
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if message["type"] == "next" {
                    cursors.push(cursor_of(&message));
                }
                continue;
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                Ending::Closed(frame.map_or(1005, |f| u16::from(f.code)))
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => Ending::Dropped,
        };
        return (cursors, ending);
    }
}

fn cursor_of(message: &Value) -> String {
    message["payload"]["data"]["licenseEvents"]["cursor"]
        .as_str()
        .unwrap_or("none")
        .to_owned()
}

/// Everything a keen subscriber receives until it has been quiet a while.
async fn read_keenly(mut subscription: Subscription) -> Vec<String> {
    let mut cursors = Vec::new();
    while let Some(message) = subscription.next_message(Duration::from_secs(3)).await {
        cursors.push(cursor_of(&message));
    }
    cursors
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_closed_and_resumes_from_its_cursor_missing_nothing() {
    let app = spawn_app_with(&[("WS_SUBSCRIBER_BUFFER", "160")]).await;
    let developer = app.developer("slow@example.com", "solo").await;
    let query = subscription(developer.license_id, None);
    let keen = Subscription::open(&app.ws_url(), Some(&developer.token), &query).await;
    let keen = tokio::spawn(read_keenly(keen));
    let mut slow = reluctant_subscriber(&app, &developer.token, &query).await;

    burst(&app, developer.license_id, developer.id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (before_close, code) = read_until_closed(&mut slow).await;
    assert_eq!(
        code,
        Ending::Closed(1013),
        "after {} events",
        before_close.len()
    );
    assert!(before_close.len() < BURST, "{}", before_close.len());

    let last = before_close.last().cloned();
    let resumed = Subscription::open(
        &app.ws_url(),
        Some(&developer.token),
        &subscription(developer.license_id, last.as_deref()),
    )
    .await;
    let after_resume = read_keenly(resumed).await;
    let everything = keen.await.expect("keen subscriber");
    assert_eq!(
        everything.len(),
        BURST,
        "the keen subscriber is not held back"
    );
    let slow_saw = [before_close, after_resume].concat();
    assert_eq!(slow_saw, everything, "resumed with no gap and no duplicate");
}

#[tokio::test]
async fn a_socket_whose_client_stops_reading_is_dropped() {
    let app = spawn_app_with(&[("WS_SEND_TIMEOUT_SECONDS", "1")]).await;
    let developer = app.developer("stalled@example.com", "solo").await;
    let query = subscription(developer.license_id, None);
    let mut stalled = reluctant_subscriber(&app, &developer.token, &query).await;
    burst(&app, developer.license_id, developer.id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (received, code) = read_until_closed(&mut stalled).await;
    assert_eq!(code, Ending::Dropped, "after {} events", received.len());
    assert!(received.len() < BURST, "{}", received.len());
}
