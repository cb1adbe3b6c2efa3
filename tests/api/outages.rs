//! A database outage is answered SERVICE_UNAVAILABLE, HTTP 503 with `Retry-After`, never
//! INTERNAL; the gateway recovers by itself when the database comes back, and no write it
//! acknowledged is lost.

use crate::helpers::{DbProxy, TestApp, error_code, spawn_app, spawn_app_behind_proxy};
use entity::{prelude::*, usage_events};
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const RECORD: &str = r#"mutation($events: [UsageEventInput!]!) {
    recordUsage(events: $events) { accepted duplicates }
}"#;

/// One HTTP answer, as a client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    sent: Instant,
    took: Duration,
}

impl Answer {
    async fn of(request: reqwest::RequestBuilder) -> Self {
        let sent = Instant::now();
        // A dropped connection or a hung request is a failure of its own: the gateway must
        // answer, and within its acquire timeout.
        let response = tokio::time::timeout(Duration::from_secs(15), request.send())
            .await
            .expect("an answer within 15 s")
            .expect("an HTTP answer, not a dropped connection");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            retry_after,
            body,
            sent,
            took: sent.elapsed(),
        }
    }

    /// 503, a `Retry-After` of whole seconds, and SERVICE_UNAVAILABLE with its `retryAfter`.
    fn is_outage_refusal(&self) -> bool {
        let header_ok = self
            .retry_after
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s >= 1);
        self.status == 503
            && header_ok
            && error_code(&self.body) == Some("SERVICE_UNAVAILABLE")
            && self.body["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1)
            && self.body["data"].is_null()
    }
}

async fn record_one(app: &TestApp, token: &str, instance: &str, tx: &str) -> Answer {
    let events = json!([{ "transactionId": tx, "instanceId": instance, "metric": "api_requests", "value": 1 }]);
    Answer::of(
        app.post("/graphql")
            .bearer_auth(token)
            .json(&json!({ "query": RECORD, "variables": { "events": events } })),
    )
    .await
}

fn acknowledged(answer: &Answer) -> bool {
    answer.status == 200
        && answer.body["errors"].is_null()
        && answer.body["data"]["recordUsage"]["accepted"] == 1
}

/// Writers recording one event each, as fast as the gateway answers, until `stop`.
fn write_load(
    app: &Arc<TestApp>,
    token: &str,
    instance: &str,
    writers: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<(String, Answer)>>> {
    (0..writers)
        .map(|w| {
            let (app, stop) = (app.clone(), stop.clone());
            let (token, instance) = (token.to_owned(), instance.to_owned());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let tx = format!("writer-{w}-{n}");
                    let answer = record_one(&app, &token, &instance, &tx).await;
                    answers.push((tx, answer));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                answers
            })
        })
        .collect()
}

/// `/readyz` every 100 ms until `stop`.
fn probe_readiness(
    app: &Arc<TestApp>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Answer>> {
    let (app, stop) = (app.clone(), stop.clone());
    tokio::spawn(async move {
        let mut answers = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            answers.push(Answer::of(app.get("/readyz")).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        answers
    })
}

/// How many of the acknowledged transaction ids are stored, read past the proxy.
async fn stored(proxy: &DbProxy, transaction_ids: &[String]) -> u64 {
    let db = Database::connect(&proxy.database_url)
        .await
        .expect("the database, directly");
    let mut found = 0;
    for chunk in transaction_ids.chunks(500) {
        found += UsageEvents::find()
            .filter(usage_events::Column::TransactionId.is_in(chunk.iter().cloned()))
            .count(&db)
            .await
            .expect("count");
    }
    found
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_database_restart_during_writes_is_service_unavailable_and_loses_no_acknowledged_write() {
    let (app, proxy) = spawn_app_behind_proxy(&[("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "2")]).await;
    let app = Arc::new(app);
    let (dev, instance) = app
        .developer_with_instance("writer@example.com", "pro")
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers = write_load(&app, &dev.token, &instance, 4, &stop);
    let readiness = probe_readiness(&app, &stop);

    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    let restored_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);

    let mut answers = Vec::new();
    for writer in writers {
        answers.extend(writer.await.expect("writer"));
    }
    let readiness = readiness.await.expect("prober");

    // Every answer is a success or an outage refusal: never INTERNAL, never a lost request.
    let strays: Vec<_> = answers
        .iter()
        .filter(|(_, a)| !acknowledged(a) && !a.is_outage_refusal())
        .collect();
    assert!(strays.is_empty(), "neither success nor 503: {strays:#?}");
    let refused: Vec<_> = answers.iter().filter(|(_, a)| !acknowledged(a)).collect();
    let acks: Vec<String> = answers
        .iter()
        .filter(|(_, a)| acknowledged(a))
        .map(|(tx, _)| tx.clone())
        .collect();
    assert!(
        answers
            .iter()
            .any(|(_, a)| acknowledged(a) && a.sent < cut_at),
        "writes went through before the outage"
    );
    assert!(!refused.is_empty(), "the outage was seen");
    assert!(
        refused.iter().all(|(_, a)| a.sent + a.took >= cut_at),
        "refused only once the database was gone"
    );

    // The gateway recovered by itself: a write succeeds soon after the database is back, and
    // every write sent two seconds later does.
    let first_after = answers
        .iter()
        .filter(|(_, a)| a.sent >= restored_at && acknowledged(a))
        .map(|(_, a)| a.sent + a.took - restored_at)
        .min()
        .expect("a write succeeded after the database came back");
    assert!(first_after < Duration::from_secs(3), "{first_after:?}");
    let late_refusals = refused
        .iter()
        .filter(|(_, a)| a.sent >= restored_at + Duration::from_secs(2))
        .count();
    assert_eq!(late_refusals, 0, "writes still refused after recovery");

    // Readiness followed the database, saying when to come back.
    let down: Vec<_> = readiness
        .iter()
        .filter(|a| a.sent >= cut_at && a.sent + a.took <= restored_at)
        .collect();
    assert!(!down.is_empty(), "readiness probed during the outage");
    assert!(
        down.iter()
            .all(|a| a.status == 503 && a.retry_after.as_deref() == Some("1")),
        "{down:#?}"
    );
    assert!(
        readiness
            .iter()
            .any(|a| a.sent >= restored_at && a.status == 200),
        "ready again"
    );
    assert_eq!(readiness.last().map(|a| a.status), Some(200));

    // No acknowledged write was lost.
    let found = stored(&proxy, &acks).await;
    assert_eq!(found, acks.len() as u64, "acknowledged writes stored");

    let slowest_refusal = refused.iter().map(|(_, a)| a.took).max();
    eprintln!(
        "outage test: {} writes in {:?}, {} acknowledged (all stored), {} refused 503 \
         (slowest {slowest_refusal:?}); first write after restore answered in {first_after:?}; \
         readiness 503 x{} during the outage",
        answers.len(),
        started.elapsed(),
        acks.len(),
        refused.len(),
        down.len(),
    );
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_database_that_stops_answering_is_service_unavailable_within_the_acquire_timeout() {
    let (app, proxy) = spawn_app_behind_proxy(&[("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")]).await;
    let (dev, instance) = app
        .developer_with_instance("silent@example.com", "pro")
        .await;
    proxy.silence();
    // More requests than the pool has connections: the old ones fail at once, then every
    // request waits for a new one that never answers, and gives up after the timeout.
    let mut slowest = Duration::ZERO;
    for n in 0..8 {
        let answer = record_one(&app, &dev.token, &instance, &format!("silent-{n}")).await;
        assert!(answer.is_outage_refusal(), "{answer:#?}");
        assert!(answer.took < Duration::from_secs(4), "{answer:#?}");
        slowest = slowest.max(answer.took);
    }
    assert!(
        slowest >= Duration::from_millis(900),
        "some request waited for the timeout: {slowest:?}"
    );
    let ready = Answer::of(app.get("/readyz")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.retry_after.as_deref(), Some("1"));
    assert!(ready.took < Duration::from_secs(4), "{ready:#?}");

    proxy.restore();
    let back = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        let answer = record_one(&app, &dev.token, &instance, &format!("back-{n}")).await;
        if acknowledged(&answer) {
            break;
        }
        assert!(answer.is_outage_refusal(), "{answer:#?}");
        assert!(back.elapsed() < Duration::from_secs(10), "not recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = Answer::of(app.get("/readyz")).await;
    assert_eq!(ready.status, 200);
    eprintln!(
        "silent database: slowest refusal {slowest:?}; writes again {:?} after restore",
        back.elapsed()
    );
}

/// Without any database (its pool closed), on either backend: GraphQL answers, a credential
/// looked up in the database and readiness are all 503 with `Retry-After`.
#[tokio::test]
async fn without_a_database_every_door_answers_503_with_retry_after() {
    let app = spawn_app().await;
    let dev = app.developer("closed@example.com", "solo").await;
    app.state.db.clone().close().await.expect("close pool");

    let login = Answer::of(app.post("/graphql").json(&json!({
        "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        "variables": { "e": "closed@example.com", "p": crate::helpers::PASSWORD },
    })))
    .await;
    assert!(login.is_outage_refusal(), "{login:#?}");

    // A license key as the credential is looked up before the operation runs.
    let by_key = Answer::of(
        app.post("/graphql")
            .bearer_auth(&dev.license_key)
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    assert!(by_key.is_outage_refusal(), "{by_key:#?}");

    let ready = Answer::of(app.get("/readyz")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.retry_after.as_deref(), Some("1"));
}
