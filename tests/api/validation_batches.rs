//! Validations that arrive together share one statement on PostgreSQL; every caller must still
//! get its own answer, whatever else was in the batch.

use crate::helpers::validation::{Validation, validate};
use crate::helpers::{Actor, TestApp, on_postgres, spawn_app, spawn_app_with};
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::sync::Arc;

const VALIDATE: &str = r#"query($key: String!, $fp: String, $product: String) {
    validateLicense(key: $key, fingerprint: $fp, product: $product) { code license { id } }
}"#;

const UNKNOWN_KEY: &str = "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ";

/// Three licenses that answer differently: `with_node` has node `fp-a`, `suspended` is
/// suspended, `bare` has no node.
struct Fleet {
    with_node: (String, String),
    suspended: (String, String),
    bare: (String, String),
}

async fn fleet(app: &TestApp) -> Fleet {
    let admin = app.admin_token().await;
    let mut licenses = Vec::new();
    for name in ["with-node", "suspended", "bare"] {
        let dev = app.developer(&format!("{name}@example.com"), "pro").await;
        licenses.push((dev.license_key, dev.license_id.to_string()));
    }
    app.node(&licenses[0].0, "fp-a").await;
    let suspended = app
        .graphql(
            "mutation($id: UUID!) { suspendLicense(id: $id) { state } }",
            json!({ "id": licenses[1].1 }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        suspended["data"]["suspendLicense"]["state"], "SUSPENDED",
        "{suspended}"
    );
    let mut licenses = licenses.into_iter();
    let mut next = || licenses.next().expect("three licenses");
    Fleet {
        with_node: next(),
        suspended: next(),
        bare: next(),
    }
}

/// (key, fingerprint, product, expected code, expected license id) for one request.
type Case = (
    String,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<String>,
);

fn cases(fleet: &Fleet) -> Vec<Case> {
    let (node_key, node_id) = fleet.with_node.clone();
    let (suspended_key, suspended_id) = fleet.suspended.clone();
    let (bare_key, bare_id) = fleet.bare.clone();
    vec![
        (
            node_key.clone(),
            Some("fp-a"),
            None,
            "VALID",
            Some(node_id.clone()),
        ),
        (
            node_key.clone(),
            Some("fp-z"),
            None,
            "FINGERPRINT_SCOPE_MISMATCH",
            Some(node_id.clone()),
        ),
        (
            node_key,
            None,
            Some("other"),
            "PRODUCT_SCOPE_MISMATCH",
            Some(node_id),
        ),
        (
            suspended_key,
            Some("fp-a"),
            None,
            "SUSPENDED",
            Some(suspended_id),
        ),
        (
            bare_key.clone(),
            Some("fp-a"),
            None,
            "NO_MACHINE",
            Some(bare_id.clone()),
        ),
        (bare_key, None, Some("core"), "VALID", Some(bare_id)),
        (
            UNKNOWN_KEY.to_owned(),
            Some("fp-a"),
            None,
            "NOT_FOUND",
            None,
        ),
    ]
}

#[tokio::test]
async fn concurrent_validations_over_http_each_get_their_own_answer() {
    let app = Arc::new(spawn_app().await);
    let fleet = fleet(&app).await;
    let cases = cases(&fleet);
    // Ten rounds of every case, interleaved, all in flight at once.
    let requests = (0..10).flat_map(|_| cases.iter().cloned()).map(|case| {
        let app = app.clone();
        tokio::spawn(async move {
            let (key, fingerprint, product, _, _) = &case;
            let body = app
                .validate_license(VALIDATE, key, *fingerprint, *product)
                .await;
            (case, body)
        })
    });
    let answers = join_all(requests).await;
    assert_eq!(answers.len(), 70);
    for answer in answers {
        let ((key, fingerprint, product, code, license), body) = answer.expect("request task");
        let got = &body["data"]["validateLicense"];
        assert_eq!(
            got["code"], code,
            "key {key}, fingerprint {fingerprint:?}, product {product:?}: {body}"
        );
        let expected_license = license.map_or(Value::Null, Value::from);
        assert_eq!(got["license"]["id"], expected_license, "{body}");
    }
}

/// Runs the cases `rounds` times at once against the service and returns the statements sent.
async fn validate_together(app: &TestApp, cases: &[Case], rounds: usize) -> u64 {
    let before = app.statements.get();
    let actor = Actor::system(&app.state);
    // On the test's single-threaded runtime every validation below is queued before any lane
    // runs, so how they are grouped into statements is fixed, not a matter of timing.
    let all: Vec<&Case> = (0..rounds).flat_map(|_| cases.iter()).collect();
    let answers =
        join_all(all.iter().map(|(key, fingerprint, product, _, _)| {
            validate(&actor, key, *fingerprint, *product)
        }))
        .await;
    let sent = app.statements.get() - before;
    for (answer, (key, fingerprint, product, code, license)) in answers.into_iter().zip(all) {
        let Validation {
            code: got,
            license: found,
        } = answer.expect("validation");
        assert_eq!(got.as_str(), *code, "{key} {fingerprint:?} {product:?}");
        assert_eq!(
            found.map(|l| l.id.to_string()),
            license.clone(),
            "{key} {fingerprint:?}"
        );
    }
    sent
}

#[tokio::test]
async fn validations_queued_together_share_one_statement_on_postgres() {
    let app = spawn_app().await;
    let fleet = fleet(&app).await;
    let cases = cases(&fleet);
    let sent = validate_together(&app, &cases, 6).await;
    if on_postgres() {
        assert_eq!(sent, 1, "42 validations queued together: one statement");
    } else {
        assert_eq!(
            sent, 42,
            "SQLite answers each validation with its own statement"
        );
    }
    // Nothing was left behind: a later validation is answered on its own.
    assert_eq!(validate_together(&app, &cases[..1], 1).await, 1);
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_batch_never_carries_more_than_its_maximum() {
    let app = spawn_app_with(&[("VALIDATION_BATCH_MAX", "16")]).await;
    let fleet = fleet(&app).await;
    let cases = cases(&fleet);
    // 42 queued validations in batches of at most 16: 16 + 16 + 10.
    assert_eq!(validate_together(&app, &cases, 6).await, 3);

    let one_each = spawn_app_with(&[("VALIDATION_BATCH_MAX", "1")]).await;
    let other_fleet = self::fleet(&one_each).await;
    let one_each_cases = self::cases(&other_fleet);
    assert_eq!(validate_together(&one_each, &one_each_cases, 2).await, 14);
}
