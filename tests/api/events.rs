use crate::helpers::{
    PASSWORD, SIGNUP, Subscription, spawn_app, spawn_gateway_process, subscription_error,
};
use serde_json::json;
use std::time::Duration;

const LICENSE_EVENTS: &str =
    "subscription { licenseEvents { type licenseId developerId license { state plan { code } } } }";

#[tokio::test]
async fn license_events_reach_admins_and_owners_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let bystander_token = app.developer("bystander@example.com", "solo").await.token;

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
    assert_eq!(
        subscription_error(&message)["code"],
        "UNAUTHENTICATED",
        "{message}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_change_made_on_one_gateway_reaches_subscribers_of_another() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_child, other) = spawn_gateway_process(&app.database_url, &[]).await;

    let mut subscriber = Subscription::open(&app.ws_url(), Some(&admin), LICENSE_EVENTS).await;
    let body = app
        .graphql_at(
            &other,
            SIGNUP,
            json!({ "input": { "email": "elsewhere@example.com", "name": "E", "password": PASSWORD, "planCode": "solo" } }),
            None,
        )
        .await;
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
