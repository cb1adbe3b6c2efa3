use crate::helpers::{Subscription, on_postgres, spawn_app};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const LICENSE_EVENTS: &str =
    "subscription { licenseEvents { type licenseId developerId license { state plan { code } } } }";

#[tokio::test]
async fn license_events_reach_admins_and_owners_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let bystander = app.signup("bystander@example.com", "solo").await;
    let bystander_token = bystander["accessToken"].as_str().expect("token").to_owned();

    let mut as_admin = Subscription::open(&app.ws_url(), Some(&admin), LICENSE_EVENTS).await;
    let mut as_bystander =
        Subscription::open(&app.ws_url(), Some(&bystander_token), LICENSE_EVENTS).await;

    let created = app.signup("newcomer@example.com", "pro").await;
    let event = as_admin
        .next_message(Duration::from_secs(5))
        .await
        .expect("admin receives the event");
    let payload = &event["payload"]["data"]["licenseEvents"];
    assert_eq!(payload["type"], "license.created", "{event}");
    assert_eq!(payload["licenseId"], created["license"]["id"]);
    assert_eq!(payload["license"]["plan"]["code"], "pro");
    assert_eq!(payload["license"]["state"], "TRIALING");

    assert!(
        as_bystander
            .next_message(Duration::from_millis(800))
            .await
            .is_none(),
        "another developer's license must not be visible"
    );
}

#[tokio::test]
async fn anonymous_subscribers_are_refused() {
    let app = spawn_app().await;
    let mut anonymous = Subscription::open(&app.ws_url(), None, LICENSE_EVENTS).await;
    let message = anonymous
        .next_message(Duration::from_secs(5))
        .await
        .expect("an error message");
    let code = message["payload"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| message["payload"]["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("UNAUTHENTICATED"), "{message}");
}

/// A second gateway, as its own OS process, on the same database.
pub async fn spawn_gateway_process(database_url: &str) -> (tokio::process::Child, String) {
    spawn_gateway_process_with(database_url, &[], Stdio::null()).await
}

/// A gateway process with some settings of its own; its log goes to `stderr`.
pub async fn spawn_gateway_process_with(
    database_url: &str,
    settings: &[(&str, &str)],
    stderr: Stdio,
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("serve")
        .envs(settings.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("APP_ENV", "development")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("gateway binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("listening on http://") {
                return rest.split_whitespace().next().map(str::to_owned);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the second gateway reports its address");
    (child, address)
}

#[tokio::test]
async fn a_change_made_on_one_gateway_reaches_subscribers_of_another() {
    if !on_postgres() {
        eprintln!("skipped: cross-process events need TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_child, other) = spawn_gateway_process(&app.database_url).await;

    let mut subscriber = Subscription::open(&app.ws_url(), Some(&admin), LICENSE_EVENTS).await;
    let body: Value = app
        .client
        .post(format!("http://{other}/graphql"))
        .json(&json!({
            "query": crate::helpers::SIGNUP,
            "variables": { "input": { "email": "elsewhere@example.com", "name": "E", "password": crate::helpers::PASSWORD, "planCode": "solo" } }
        }))
        .send()
        .await
        .expect("sent to the other gateway")
        .json()
        .await
        .expect("json");
    let license_id = body["data"]["signup"]["license"]["id"].clone();
    assert!(license_id.is_string(), "{body}");

    let event = subscriber
        .next_message(Duration::from_secs(10))
        .await
        .expect("the event crosses processes");
    assert_eq!(
        event["payload"]["data"]["licenseEvents"]["licenseId"],
        license_id
    );
}
