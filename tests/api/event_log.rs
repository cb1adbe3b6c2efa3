//! The durable event log behind subscriptions: a subscriber resumes from an event's cursor and
//! receives exactly what it missed, then the live events, once each; filters narrow what it
//! receives; a payload too large for NOTIFY is delivered; a cursor past retention is refused.

use crate::helpers::{Subscription, TestApp, spawn_app, spawn_app_with, subscription_error};
use api::auth::Actor;
use api::events::{Event, UnitOfWork};
use entity::{event_log, prelude::EventLog};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::time::Duration;

const FIELDS: &str = "type licenseId cursor data";

fn subscription(arguments: &str) -> String {
    if arguments.is_empty() {
        format!("subscription {{ licenseEvents {{ {FIELDS} }} }}")
    } else {
        format!("subscription {{ licenseEvents({arguments}) {{ {FIELDS} }} }}")
    }
}

/// Every event the subscription receives until it has been quiet for `quiet`.
async fn drain(subscription: &mut Subscription, quiet: Duration) -> Vec<Value> {
    let mut received = Vec::new();
    while let Some(message) = subscription.next_message(quiet).await {
        received.push(message["payload"]["data"]["licenseEvents"].clone());
    }
    received
}

async fn admin_move(app: &TestApp, admin: &str, mutation: &str, license: &Value) {
    let body = app
        .graphql(
            &format!("mutation($id: UUID!) {{ {mutation}(id: $id) {{ state }} }}"),
            json!({ "id": license }),
            Some(admin),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

fn cursors(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e["cursor"]
                .as_str()
                .and_then(|c| c.parse().ok())
                .unwrap_or(-1)
        })
        .collect()
}

#[tokio::test]
async fn a_subscriber_resumes_from_its_cursor_with_exactly_what_it_missed_then_live() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut first = Subscription::open(&app.ws_url(), Some(&admin), &subscription("")).await;
    let developer = app.developer("resume@example.com", "solo").await;
    let license = json!(developer.license_id);
    let seen = first
        .next_message(Duration::from_secs(5))
        .await
        .expect("license.created");
    let cursor = seen["payload"]["data"]["licenseEvents"]["cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    drop(first);

    // Missed while away.
    admin_move(&app, &admin, "suspendLicense", &license).await;
    admin_move(&app, &admin, "reinstateLicense", &license).await;
    admin_move(&app, &admin, "suspendLicense", &license).await;

    let mut resumed = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription(&format!("after: \"{cursor}\"")),
    )
    .await;
    let replayed = drain(&mut resumed, Duration::from_millis(800)).await;
    assert_eq!(replayed.len(), 3, "{replayed:?}");
    assert!(
        replayed
            .iter()
            .all(|e| e["type"] == "license.state_changed")
    );
    let states: Vec<&Value> = replayed.iter().map(|e| &e["data"]["state"]).collect();
    assert_eq!(
        states,
        [&json!("suspended"), &json!("active"), &json!("suspended")]
    );
    let positions = cursors(&replayed);
    assert!(
        positions.windows(2).all(|w| w[0] < w[1])
            && positions[0] > cursor.parse::<i64>().unwrap_or(0),
        "{positions:?}"
    );

    // Then live, once.
    admin_move(&app, &admin, "reinstateLicense", &license).await;
    let live = drain(&mut resumed, Duration::from_millis(800)).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(cursors(&live)[0] > positions[2]);
}

#[tokio::test]
async fn filters_narrow_a_subscription_to_a_license_and_to_event_types() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let one = app.developer("one@example.com", "solo").await;
    let two = app.developer("two@example.com", "solo").await;
    let mut narrowed = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription(&format!(
            "licenseId: \"{}\", types: [\"license.state_changed\"]",
            one.license_id
        )),
    )
    .await;
    admin_move(&app, &admin, "suspendLicense", &json!(two.license_id)).await;
    admin_move(&app, &admin, "suspendLicense", &json!(one.license_id)).await;
    let received = drain(&mut narrowed, Duration::from_millis(800)).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["licenseId"], json!(one.license_id));

    let mut refused = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription("types: [\"Not A Type\"]"),
    )
    .await;
    let message = refused
        .next_message(Duration::from_secs(5))
        .await
        .expect("an error");
    assert_eq!(subscription_error(&message)["field"], "types", "{message}");
}

#[tokio::test]
async fn an_event_larger_than_a_notify_payload_is_delivered() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("large@example.com", "solo").await;
    let mut subscriber = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription(&format!("licenseId: \"{}\"", developer.license_id)),
    )
    .await;
    let note = "x".repeat(20_000);
    let actor = Actor::system(&app.state);
    let mut uow = UnitOfWork::begin(&actor).await.expect("begin");
    uow.publish(Event {
        kind: "license.note".into(),
        entity_id: developer.license_id,
        developer_id: Some(developer.id),
        data: json!({ "note": note }),
    });
    uow.commit().await.expect("commit");
    let received = drain(&mut subscriber, Duration::from_secs(2)).await;
    assert_eq!(received.len(), 1, "{} events", received.len());
    assert_eq!(
        received[0]["data"]["note"].as_str().map(str::len),
        Some(20_000)
    );
}

#[tokio::test]
async fn a_cursor_past_retention_is_refused_with_a_code_that_says_reload() {
    let app = spawn_app_with(&[("TEST_CLOCK", "true")]).await;
    let admin = app.admin_token().await;
    let mut subscriber = Subscription::open(&app.ws_url(), Some(&admin), &subscription("")).await;
    let developer = app.developer("old@example.com", "solo").await;
    admin_move(&app, &admin, "suspendLicense", &json!(developer.license_id)).await;
    let events = drain(&mut subscriber, Duration::from_millis(800)).await;
    let first = events[0]["cursor"].as_str().expect("a cursor").to_owned();
    drop(subscriber);
    // The log as it will be in eight days: these events past the seven days kept.
    EventLog::update_many()
        .col_expr(
            event_log::Column::OccurredAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(8)),
        )
        .exec(&app.state.db)
        .await
        .expect("aged");

    let ran = app
        .graphql(
            "mutation { advanceTestClock(seconds: 60) { ran { job rows } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert!(ran["errors"].is_null(), "{ran}");
    let mut stale = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription(&format!("after: \"{first}\"")),
    )
    .await;
    let message = stale
        .next_message(Duration::from_secs(5))
        .await
        .expect("an error");
    assert_eq!(
        subscription_error(&message)["code"],
        "CONFLICT",
        "{message}"
    );
    assert_eq!(
        subscription_error(&message)["reason"],
        "CURSOR_EXPIRED",
        "{message}"
    );
}

/// The positions of the license events committed after `after`, as the database has them.
async fn committed_after(database_url: &str, after: i64) -> Vec<i64> {
    let db = sea_orm::Database::connect(database_url)
        .await
        .expect("connect");
    let rows = EventLog::find()
        .filter(event_log::Column::Position.gt(after))
        .filter(event_log::Column::Kind.starts_with("license."))
        .order_by_asc(event_log::Column::Position)
        .all(&db)
        .await
        .expect("read the log");
    rows.into_iter().map(|row| row.position).collect()
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_database_restart_while_events_are_published_loses_none() {
    let (app, proxy) =
        crate::helpers::spawn_app_behind_proxy(&[("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")]).await;
    let admin = app.admin_token().await;
    let developer = app.developer("restart@example.com", "solo").await;
    let license = json!(developer.license_id);
    let mut staying = Subscription::open(&app.ws_url(), Some(&admin), &subscription("")).await;
    let start = {
        admin_move(&app, &admin, "suspendLicense", &license).await;
        let first = drain(&mut staying, Duration::from_millis(500)).await;
        cursors(&first)[0]
    };

    // Changes keep coming while the database goes away and comes back; those that fail
    // during the outage were never committed.
    let mut resume_from = None;
    for n in 0..40 {
        if n == 10 {
            resume_from = Some(start);
            proxy.cut();
        }
        if n == 25 {
            proxy.restore();
        }
        let mutation = if n % 2 == 0 {
            "reinstateLicense"
        } else {
            "suspendLicense"
        };
        let _ = app
            .graphql(
                &format!("mutation($id: UUID!) {{ {mutation}(id: $id) {{ state }} }}"),
                json!({ "id": license }),
                Some(&admin),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let committed = committed_after(&proxy.database_url, start).await;
    assert!(committed.len() >= 20, "{committed:?}");

    // The subscriber that stayed connected received every one, once, in order.
    let stayed = drain(&mut staying, Duration::from_secs(3)).await;
    assert_eq!(cursors(&stayed), committed);

    // One that resumes from before the outage receives them all too.
    let mut resumed = Subscription::open(
        &app.ws_url(),
        Some(&admin),
        &subscription(&format!("after: \"{}\"", resume_from.unwrap_or(start))),
    )
    .await;
    let replayed = drain(&mut resumed, Duration::from_secs(2)).await;
    assert_eq!(cursors(&replayed), committed);
}
