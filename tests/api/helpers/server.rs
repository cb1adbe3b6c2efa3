use super::database::{TestDb, fresh_database};
use super::logging;
use api::config::Config;
use api::db::StatementCounter;
use api::domain::accounts::service::BootstrapAdmin;
use api::state::AppState;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse 42";

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
            .map(|(_, v)| v.clone())
            // The scheduler runs only where a test asks for it, so that no test's statements
            // or rows are touched by a job it did not start.
            .or_else(|| (other == "SCHEDULER_TICK_SECONDS").then(|| "0".into()))
            // Fixtures sign up and log in without a credential, many to a test: the budget of
            // callers with no credential applies where a test sets it.
            .or_else(|| other.starts_with("ANONYMOUS_").then(|| "100000".into())),
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

/// A server whose dataloaders wait long enough to gather a whole level even while the rest of
/// the suite loads the machine: a batch split by a slow poll would count as an extra statement.
pub async fn spawn_patient_app() -> TestApp {
    spawn_app_with(&[("DATALOADER_DELAY_MICROS", "20000")]).await
}

pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let (database_url, db) = fresh_database().await;
    spawn_app_on(database_url, db, overrides).await
}

/// The server on the database at `database_url` (such as a fresh one reached another way),
/// which lives as long as `db`.
pub(super) async fn spawn_app_on(
    database_url: String,
    db: TestDb,
    overrides: &[(&str, &str)],
) -> TestApp {
    logging::init();
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

/// A `DateTime` field of an answer, such as `license.expiresAt`.
pub fn time(field: &Value) -> chrono::DateTime<chrono::Utc> {
    field
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a time: {field}"))
}

/// The JSON a request is answered with.
async fn answer(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON answer")
}

impl TestApp {
    pub async fn graphql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        self.graphql_at(&self.address, query, variables, token)
            .await
    }

    /// The answer to a GraphQL request sent with one extra header (a user agent, a forwarded
    /// client address).
    pub async fn graphql_with_header(
        &self,
        (name, value): (&str, &str),
        query: &str,
        variables: Value,
    ) -> Value {
        let request = self
            .post("/graphql")
            .header(name, value)
            .json(&json!({ "query": query, "variables": variables }));
        answer(request).await
    }

    /// The answer to a GraphQL request and the SQL statements the server sent for it.
    pub async fn graphql_counted(
        &self,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> (Value, u64) {
        let before = self.statements.get();
        let body = self.graphql(query, variables, token).await;
        (body, self.statements.get() - before)
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
        answer(request).await
    }

    /// A GET of `path` (such as `/readyz`) on this server, to finish and send.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.address))
    }

    /// A POST to `path` on this server, to finish and send: for requests `graphql` cannot
    /// make, with headers or bodies of their own.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.address))
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
