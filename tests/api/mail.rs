//! Mail leaves through the outbox: queued in a unit of work, delivered by SMTP to a real server
//! on a loopback port, retried while the server refuses, logged without its token when there is
//! no server, claimed once across gateways; admins read it, the token hidden.

use crate::helpers::{
    Actor, MailKind, OutgoingMail, SmtpReceiver, TestApp, UnitOfWork, error_code, mail,
    spawn_app_with, spawn_gateway_process, spawn_gateway_process_with_piped_log,
};
use chrono::{DateTime, Utc};
use entity::{mail_outbox, prelude::*};
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const OUTBOX: &str = "query($status: MailStatus) {
    mailOutbox(first: 10, status: $status) {
        totalCount
        edges { node { id kind recipient subject body status attempts nextAttemptAt lastError createdAt sentAt } }
    }
}";

/// A one-time token as a flow would mint it: URL-safe and long.
fn token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn reset_mail(to: &str, token: &str) -> OutgoingMail {
    OutgoingMail::new(
        MailKind::PasswordReset,
        to,
        "Reset your password",
        "Someone asked to reset your password.\n\nChoose a new one here: {link}\n\nThe link works once.",
    )
    .with_link("/reset-password", SecretString::from(token))
}

/// Queues `mail` in a unit of work of the platform's own and commits it.
async fn queue(app: &TestApp, mail: OutgoingMail) -> Uuid {
    let actor = Actor::system(&app.state);
    let mut uow = UnitOfWork::begin(&actor).await.expect("begin");
    let id = mail::queue(&mut uow, mail).await.expect("queued");
    uow.commit().await.expect("committed");
    id
}

async fn row(app: &TestApp, id: Uuid) -> mail_outbox::Model {
    MailOutbox::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("read the outbox")
        .expect("the mail is in the outbox")
}

/// The mail's row once `done` holds for it, waiting at most `within`.
async fn row_once(
    app: &TestApp,
    id: Uuid,
    within: Duration,
    done: impl Fn(&mail_outbox::Model) -> bool,
) -> mail_outbox::Model {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let current = row(app, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mail {id} did not get there in {within:?}: status {}, attempts {}, error {:?}",
            current.status,
            current.attempts,
            current.last_error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn at(time: sea_orm::prelude::DateTimeWithTimeZone) -> DateTime<Utc> {
    time.with_timezone(&Utc)
}

/// A failure recorded (not a claim in progress, whose next attempt is a lease minutes away).
fn failed_attempt(attempts: i32) -> impl Fn(&mail_outbox::Model) -> bool {
    move |m| {
        m.attempts == attempts
            && m.last_error.is_some()
            && at(m.next_attempt_at) < Utc::now() + chrono::Duration::seconds(60)
    }
}

/// A gateway whose SMTP server refuses every mail until told otherwise,
/// retrying every second and giving up after `max_attempts`.
async fn app_with_refusing_smtp(max_attempts: &str) -> (SmtpReceiver, TestApp) {
    let receiver = SmtpReceiver::start().await;
    receiver.refuse(true);
    let smtp = receiver.url();
    let app = spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("MAIL_POLL_SECONDS", "1"),
        ("MAIL_RETRY_SECONDS", "1"),
        ("MAIL_MAX_ATTEMPTS", max_attempts),
    ])
    .await;
    (receiver, app)
}

#[tokio::test]
async fn queued_mail_reaches_the_smtp_server_with_its_link_and_admins_read_it_without_the_token() {
    let receiver = SmtpReceiver::start().await;
    let smtp = receiver.url();
    let app = spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("PUBLIC_URL", "https://licensing.example.com/"),
        ("MAIL_FROM", "Licensing <licensing@example.com>"),
    ])
    .await;
    let secret = token();
    let id = queue(&app, reset_mail("ada@example.com", &secret)).await;

    let received = receiver.next_mail(Duration::from_secs(20)).await;
    assert_eq!(received.recipients, ["ada@example.com"]);
    assert_eq!(received.sender, "licensing@example.com");
    assert_eq!(received.header("subject"), Some("Reset your password"));
    assert!(
        received
            .header("from")
            .is_some_and(|f| f.contains("licensing@example.com"))
    );
    // Following the link: it leads under PUBLIC_URL and carries the token that was queued.
    let link = received
        .link("https://licensing.example.com/reset-password?")
        .unwrap_or_else(|| panic!("a reset link in {:?}", received.body));
    let carried = link
        .split_once("?token=")
        .map(|(_, token)| token.to_owned())
        .expect("the link carries a token");
    assert_eq!(carried, secret);

    let sent = row_once(&app, id, Duration::from_secs(10), |m| m.status == "sent").await;
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some());
    assert_eq!(
        sent.link_token, None,
        "the token is erased once the mail left"
    );

    let admin = app.admin_token().await;
    let listed = app.graphql(OUTBOX, json!({}), Some(&admin)).await;
    assert!(listed["errors"].is_null(), "{listed}");
    assert!(!listed.to_string().contains(&secret), "{listed}");
    let node = &listed["data"]["mailOutbox"]["edges"][0]["node"];
    assert_eq!(listed["data"]["mailOutbox"]["totalCount"], 1);
    assert_eq!(node["id"], id.to_string());
    assert_eq!(node["kind"], "PASSWORD_RESET");
    assert_eq!(node["status"], "SENT");
    assert_eq!(node["recipient"], "ada@example.com");
    assert_eq!(node["attempts"], 1);
    assert!(node["nextAttemptAt"].is_null() && node["lastError"].is_null());
    assert!(node["sentAt"].is_string());
    let body = node["body"].as_str().expect("a body");
    assert!(
        body.contains("https://licensing.example.com/reset-password?token=[hidden]"),
        "{body}"
    );
    let pending = app
        .graphql(OUTBOX, json!({ "status": "PENDING" }), Some(&admin))
        .await;
    assert_eq!(pending["data"]["mailOutbox"]["totalCount"], 0, "{pending}");

    let developer = app.developer("dev@example.com", "pro").await;
    let refused = app.graphql(OUTBOX, json!({}), Some(&developer.token)).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let anonymous = app.graphql(OUTBOX, json!({}), None).await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
}

#[tokio::test]
async fn a_mail_exists_only_if_its_change_commits() {
    let receiver = SmtpReceiver::start().await;
    let smtp = receiver.url();
    let app = spawn_app_with(&[("SMTP_URL", &smtp), ("MAIL_POLL_SECONDS", "1")]).await;
    let actor = Actor::system(&app.state);
    let mut abandoned = UnitOfWork::begin(&actor).await.expect("begin");
    mail::queue(&mut abandoned, reset_mail("gone@example.com", &token()))
        .await
        .expect("queued");
    drop(abandoned);
    let secret = token();
    queue(&app, reset_mail("kept@example.com", &secret)).await;

    let received = receiver.next_mail(Duration::from_secs(20)).await;
    assert_eq!(received.recipients, ["kept@example.com"]);
    assert!(received.body.contains(&secret));
    // A poll interval and more: nothing else comes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.waiting(), 0);
    let stored = MailOutbox::find()
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(stored, 1, "the rolled-back mail was never written");
}

#[tokio::test]
async fn a_refused_mail_is_retried_later_and_later_until_the_server_takes_it() {
    let (receiver, app) = app_with_refusing_smtp("20").await;
    let secret = token();
    let id = queue(&app, reset_mail("ada@example.com", &secret)).await;
    let created = at(row(&app, id).await.created_at);

    let wait = Duration::from_secs(20);
    let first = row_once(&app, id, wait, failed_attempt(1)).await;
    assert_eq!(first.status, "pending");
    let error = first.last_error.clone().expect("an error");
    assert!(error.contains("451"), "{error}");
    assert!(!error.contains(&secret), "{error}");
    assert!(
        at(first.next_attempt_at) > created,
        "the next attempt is later"
    );
    assert!(
        first.link_token.is_some(),
        "kept while the mail may still go"
    );

    let second = row_once(&app, id, wait, failed_attempt(2)).await;
    assert!(at(second.next_attempt_at) > at(first.next_attempt_at));
    assert!(receiver.refused() >= 2);
    assert_eq!(receiver.waiting(), 0);

    let admin = app.admin_token().await;
    let listed = app
        .graphql(OUTBOX, json!({ "status": "PENDING" }), Some(&admin))
        .await;
    let node = &listed["data"]["mailOutbox"]["edges"][0]["node"];
    assert!(
        node["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("451")),
        "{listed}"
    );
    assert!(node["nextAttemptAt"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&secret), "{listed}");

    receiver.refuse(false);
    let received = receiver.next_mail(wait).await;
    assert!(received.body.contains(&secret));
    let sent = row_once(&app, id, wait, |m| m.status == "sent").await;
    assert!(sent.attempts >= 3, "attempts {}", sent.attempts);
    assert_eq!(sent.link_token, None);
}

#[tokio::test]
async fn a_mail_refused_at_every_attempt_is_given_up_and_its_token_erased() {
    let (receiver, app) = app_with_refusing_smtp("2").await;
    let secret = token();
    let id = queue(&app, reset_mail("ada@example.com", &secret)).await;
    let failed = row_once(&app, id, Duration::from_secs(20), |m| m.status == "failed").await;
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.link_token, None);
    assert!(failed.last_error.is_some_and(|e| !e.contains(&secret)));
    assert_eq!(receiver.waiting(), 0);
}

#[tokio::test]
async fn without_smtp_mail_is_logged_without_its_token_and_kept_for_admins() {
    // This process delivers nothing; a gateway process without SMTP_URL logs the mail.
    let app = spawn_app_with(&[("MAIL_POLL_SECONDS", "0")]).await;
    let (mut gateway, _) = spawn_gateway_process_with_piped_log(
        &app.database_url,
        &[("RUST_LOG", "debug,sqlx=warn"), ("MAIL_POLL_SECONDS", "1")],
    )
    .await;
    let stderr = gateway.stderr.take().expect("stderr");
    let secret = token();
    let id = queue(&app, reset_mail("ada@example.com", &secret)).await;

    let mut lines = BufReader::new(stderr).lines();
    let mut log = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.contains("mail to ada@example.com: Reset your password");
            log.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let logged = row_once(&app, id, Duration::from_secs(10), |m| m.status == "logged").await;
    // And what the gateway logs right after.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(line);
        }
    })
    .await;
    assert!(found, "the mail was logged:\n{}", log.join("\n"));
    assert!(
        !log.iter().any(|line| line.contains(&secret)),
        "the token reached the log"
    );
    assert_eq!(logged.link_token, None);
    assert!(logged.sent_at.is_some());

    let admin = app.admin_token().await;
    let listed = app
        .graphql(OUTBOX, json!({ "status": "LOGGED" }), Some(&admin))
        .await;
    let node: &Value = &listed["data"]["mailOutbox"]["edges"][0]["node"];
    assert_eq!(node["status"], "LOGGED", "{listed}");
    assert!(
        node["body"]
            .as_str()
            .is_some_and(|b| b.contains("http://127.0.0.1:8080/reset-password?token=[hidden]")),
        "{listed}"
    );
    assert!(!listed.to_string().contains(&secret));
}

#[tokio::test]
async fn two_gateways_on_one_database_deliver_each_mail_once() {
    // This process delivers nothing; two gateway processes share the work. The server takes
    // its time over each mail, so one gateway is still sending when the other looks.
    let app = spawn_app_with(&[("MAIL_POLL_SECONDS", "0")]).await;
    let receiver = SmtpReceiver::start().await;
    receiver.take_time(Duration::from_millis(700));
    let mut gateways = Vec::new();
    for name in ["gateway-a", "gateway-b"] {
        // The URL's path is the name each gives the mail server.
        let smtp = format!("{}/{name}", receiver.url());
        let settings = [("SMTP_URL", smtp.as_str()), ("MAIL_POLL_SECONDS", "1")];
        gateways.push(spawn_gateway_process(&app.database_url, &settings).await);
    }
    let tokens: Vec<String> = (0..32).map(|_| token()).collect();
    let actor = Actor::system(&app.state);
    let mut uow = UnitOfWork::begin(&actor).await.expect("begin");
    for (n, secret) in tokens.iter().enumerate() {
        let to = format!("user{n}@example.com");
        mail::queue(&mut uow, reset_mail(&to, secret))
            .await
            .expect("queued");
    }
    uow.commit().await.expect("committed");

    let mut delivered = Vec::new();
    for _ in &tokens {
        delivered.push(receiver.next_mail(Duration::from_secs(60)).await);
    }
    // Both gateways have looked again since: nothing goes out twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.waiting(), 0, "a mail went out twice");
    for secret in &tokens {
        let copies = delivered.iter().filter(|m| m.body.contains(secret)).count();
        assert_eq!(copies, 1, "each mail exactly once");
    }
    let clients: Vec<&str> = delivered.iter().map(|m| m.client.as_str()).collect();
    for name in ["gateway-a", "gateway-b"] {
        assert!(
            clients.contains(&name),
            "{name} delivered none, so the gateways did not share the work: {clients:?}"
        );
    }
    let sent = MailOutbox::find().all(&app.state.db).await.expect("outbox");
    assert!(sent.iter().all(|m| m.status == "sent" && m.attempts == 1));
}
