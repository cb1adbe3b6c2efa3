//! Graceful shutdown: on SIGTERM a gateway closes its sockets with 1001 (clients resume
//! elsewhere from their cursor) and leaves within its drain time.

use crate::helpers::{initialised_ws, receive, send_json, spawn_app, spawn_gateway_process};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_the_process_leaves_within_its_drain_time() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (mut child, address) =
        spawn_gateway_process(&app.database_url, &[("SHUTDOWN_DRAIN_SECONDS", "5")]).await;
    let ws_url = format!("{}/graphql", address.replacen("http", "ws", 1));
    let mut socket = initialised_ws(&ws_url, Some(&admin)).await;
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { licenseEvents { cursor } }" } }),
    )
    .await;
    let ready = reqwest::get(format!("{address}/readyz"))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    let pid = child.id().expect("a running child").to_string();
    let started = Instant::now();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());

    let closed = loop {
        match receive(&mut socket).await {
            Ok(_) => continue,
            Err(code) => break code,
        }
    };
    assert_eq!(closed, Some(1001));
    let exited = tokio::time::timeout(Duration::from_secs(8), child.wait())
        .await
        .expect("the process leaves within its drain time")
        .expect("an exit status");
    assert!(exited.success(), "{exited:?}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}
