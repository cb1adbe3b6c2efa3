use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type WsSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `ws_url` speaking graphql-transport-ws, as the server agreed.
pub async fn connect_graphql_ws(ws_url: &str) -> WsSocket {
    let mut request = ws_url.into_client_request().expect("ws request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    socket
}

/// A WebSocket to `ws_url` past the graphql-transport-ws handshake: `connection_init`, with
/// the token if there is one, answered by `connection_ack`.
pub async fn initialised_ws(ws_url: &str, token: Option<&str>) -> WsSocket {
    let mut socket = connect_graphql_ws(ws_url).await;
    let payload = match token {
        Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    send_json(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let ack = tokio::time::timeout(Duration::from_secs(5), next_json(&mut socket))
        .await
        .ok()
        .flatten()
        .expect("connection_ack");
    assert_eq!(ack["type"], "connection_ack", "unexpected: {ack}");
    socket
}

/// A graphql-transport-ws client with one subscription open.
pub struct Subscription {
    socket: WsSocket,
}

impl Subscription {
    /// Connects, authenticates in `connection_init`, and subscribes. Returns once the server
    /// has had a moment to register the subscription.
    pub async fn open(ws_url: &str, token: Option<&str>, query: &str) -> Self {
        let mut socket = initialised_ws(ws_url, token).await;
        send_json(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Self { socket }
    }

    /// The next `next` or `error` message, or None if nothing arrives in time.
    pub async fn next_message(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, async {
            loop {
                let message = next_json(&mut self.socket).await?;
                match message["type"].as_str() {
                    Some("next") | Some("error") => return Some(message),
                    Some("ping") => send_json(&mut self.socket, json!({ "type": "pong" })).await,
                    _ => {}
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}

/// The extensions of a subscription's error, sent as an `error` message or as a `next` whose
/// payload carries errors.
pub fn subscription_error(message: &Value) -> &Value {
    let in_error = &message["payload"][0]["extensions"];
    if in_error.is_null() {
        &message["payload"]["errors"][0]["extensions"]
    } else {
        in_error
    }
}

/// Sends one JSON message as a text frame.
pub async fn send_json<S>(socket: &mut S, value: Value)
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("ws send");
}

pub async fn next_json<S>(socket: &mut S) -> Option<Value>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(message) = socket.next().await {
        match message.ok()? {
            Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

/// The next text message, or the close code if the server closes first.
pub async fn receive(socket: &mut WsSocket) -> Result<Value, Option<u16>> {
    let next = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Text(text)) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("JSON message"));
                }
                Ok(Message::Close(frame)) => return Err(frame.map(|f| u16::from(f.code))),
                Ok(_) => {}
                Err(_) => return Err(None),
            }
        }
        Err(None)
    })
    .await;
    next.expect("the server answers within five seconds")
}
