#![allow(dead_code)]

use api::config::Config;
use api::db::StatementCounter;
use api::domain::accounts::service::BootstrapAdmin;
use api::state::AppState;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse 42";

/// Where the test's database lives; dropped (on PostgreSQL) when the test ends.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // Drop runs outside any runtime the test may still be shutting down.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let admin = Database::connect(&server_url)
                        .await
                        .map_err(std::io::Error::other)?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await
                        .map_err(std::io::Error::other)?;
                    Ok::<_, std::io::Error>(())
                })
            })
            .join();
        }
    }
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database() -> (String, TestDb) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server_url) => {
            let name = format!("test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(&server_url)
                .await
                .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            let (base, query) = match server_url.split_once('?') {
                Some((base, query)) => (base, format!("?{query}")),
                None => (server_url.as_str(), String::new()),
            };
            let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
            let url = format!("{base}/{name}{query}");
            (url, TestDb::Postgres { server_url, name })
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
            (url, TestDb::Sqlite(dir))
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

pub fn test_config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let database_url = database_url.to_owned();
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(move |name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        "PORT" => Some("0".into()),
        "DATABASE_MAX_CONNECTIONS" => Some("5".into()),
        other => overrides
            .iter()
            .find(|(k, _)| k == other)
            .map(|(_, v)| v.clone()),
    })
    .expect("test config")
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub database_url: String,
    pub client: reqwest::Client,
    pub statements: StatementCounter,
    pub state: AppState,
    pub admin: BootstrapAdmin,
    _db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let (database_url, db) = fresh_database().await;
    let mut app = api::build(test_config(&database_url, overrides))
        .await
        .expect("app builds");
    let port = app.port();
    let statements = app.statements();
    let state = app.state().clone();
    let admin = app
        .take_bootstrap_admin()
        .expect("fresh database gets an admin");
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        database_url,
        client: reqwest::Client::new(),
        statements,
        state,
        admin,
        _db: db,
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

impl TestApp {
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        self.graphql_at(&self.address, query, variables, token)
            .await
    }

    /// The same, sent to the gateway at `address` (`http://host:port`), such as a second one.
    pub async fn graphql_at(
        &self,
        address: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("{address}/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON answer")
    }

    /// Signs up a developer on a plan and returns the `signup` payload.
    pub async fn signup(&self, email: &str, plan: &str) -> Value {
        let body = self
            .graphql(
                SIGNUP,
                json!({ "input": { "email": email, "name": "Test Developer", "password": PASSWORD, "planCode": plan } }),
                None,
            )
            .await;
        assert!(body["errors"].is_null(), "signup failed: {body}");
        body["data"]["signup"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id role } } }",
            json!({ "e": email, "p": password }),
            None,
        )
        .await
    }

    pub async fn admin_token(&self) -> String {
        let body = self.login(&self.admin.email, &self.admin.password).await;
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("admin login failed: {body}"))
            .to_owned()
    }

    /// Sends `query` (a validateLicense operation) for a key, fingerprint and product.
    pub async fn validate_license(
        &self,
        query: &str,
        key: &str,
        fingerprint: Option<&str>,
        product: Option<&str>,
    ) -> Value {
        let variables = json!({ "key": key, "fp": fingerprint, "product": product });
        self.graphql(query, variables, None).await
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql", self.port)
    }
}

pub const SIGNUP: &str = r#"
mutation Signup($input: SignupInput!) {
  signup(input: $input) {
    licenseKey
    accessToken
    developer { id email role licenses { id state } }
    license { id keyPrefix state paymentState seatsTotal seatsUsed trialEndsAt plan { code } }
  }
}"#;

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

/// A graphql-transport-ws client with one subscription open.
pub struct Subscription {
    socket: WsSocket,
}

impl Subscription {
    /// Connects, authenticates in `connection_init`, and subscribes. Returns once the server
    /// has had a moment to register the subscription.
    pub async fn open(ws_url: &str, token: Option<&str>, query: &str) -> Self {
        let mut socket = connect_graphql_ws(ws_url).await;
        let payload = match token {
            Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        let ack = next_json(&mut socket).await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "unexpected: {ack}");
        send(
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
                    Some("ping") => send(&mut self.socket, json!({ "type": "pong" })).await,
                    _ => {}
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}

async fn send<S>(socket: &mut S, value: Value)
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("ws send");
}

async fn next_json<S>(socket: &mut S) -> Option<Value>
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
