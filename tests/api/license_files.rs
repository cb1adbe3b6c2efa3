//! Licenses that verify offline: a checked-out file and a nonce-signed validation answer are
//! verified here the way a customer's software would, with an Ed25519 implementation other than
//! the one that signs, against the key `licenseSigningKey` publishes.

use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with, time};
use chrono::{DateTime, Duration, Utc};
use data_encoding::{BASE64, HEXLOWER};
use entity::{audit_events, licenses, prelude::*};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const SIGNING_KEY: &str = "query($kid: String) { licenseSigningKey(keyId: $kid) { keyId algorithm publicKey publicKeyPem current } }";

const CHECKOUT: &str = r#"mutation($key: String!, $fp: String!, $ttl: Int) {
    checkoutLicenseFile(key: $key, fingerprint: $fp, ttlSeconds: $ttl) {
        certificate payload signature keyId algorithm issuedAt expiresAt
    }
}"#;

const VALIDATE_SIGNED: &str = r#"query($key: String!, $fp: String, $nonce: String) {
    validateLicense(key: $key, fingerprint: $fp, nonce: $nonce) {
        valid code signature { keyId algorithm signedAt payload signature }
    }
}"#;

/// The current public key's raw bytes and id, as a verifier fetches them once, online.
async fn published_key(app: &TestApp) -> (Vec<u8>, String) {
    let body = app.graphql(SIGNING_KEY, json!({}), None).await;
    let key = &body["data"]["licenseSigningKey"];
    assert_eq!(key["algorithm"], "Ed25519", "{body}");
    assert_eq!(key["current"], true, "{body}");
    let raw = BASE64
        .decode(key["publicKey"].as_str().expect("publicKey").as_bytes())
        .expect("base64");
    (raw, key["keyId"].as_str().expect("keyId").to_owned())
}

/// What a customer's verifier does offline: the signature over the payload's exact bytes
/// under the published key, then the payload's own expiry against its clock.
fn verify_offline(public_key: &[u8], payload: &str, signature: &str, now: DateTime<Utc>) -> bool {
    let Ok(signature) = BASE64.decode(signature.as_bytes()) else {
        return false;
    };
    if UnparsedPublicKey::new(&ED25519, public_key)
        .verify(payload.as_bytes(), &signature)
        .is_err()
    {
        return false;
    }
    let Ok(stated) = serde_json::from_str::<Value>(payload) else {
        return false;
    };
    stated["type"] == "license-file" && time(&stated["expiresAt"]) > now
}

/// The payload and signature inside a certificate block.
fn unwrap_certificate(certificate: &str) -> (String, String, String) {
    let body: String = certificate
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let envelope: Value =
        serde_json::from_slice(&BASE64.decode(body.as_bytes()).expect("base64")).expect("json");
    assert_eq!(envelope["alg"], "Ed25519");
    let payload = BASE64
        .decode(envelope["enc"].as_str().expect("enc").as_bytes())
        .expect("base64");
    (
        String::from_utf8(payload).expect("utf-8"),
        envelope["sig"].as_str().expect("sig").to_owned(),
        envelope["kid"].as_str().expect("kid").to_owned(),
    )
}

async fn checkout(app: &TestApp, key: &str, fingerprint: &str, ttl: Option<i64>) -> Value {
    app.graphql(
        CHECKOUT,
        json!({ "key": key, "fp": fingerprint, "ttl": ttl }),
        None,
    )
    .await
}

#[tokio::test]
async fn a_license_file_verifies_offline_and_fails_once_tampered_or_expired() {
    let app = spawn_app().await;
    let dev = app.developer("offline@example.com", "pro").await;
    app.node(&dev.license_key, "host-7f3a").await;
    let (public_key, key_id) = published_key(&app).await;

    let body = checkout(&app, &dev.license_key, "host-7f3a", Some(3_600)).await;
    let file = &body["data"]["checkoutLicenseFile"];
    let payload = file["payload"].as_str().unwrap_or_else(|| panic!("{body}"));
    let signature = file["signature"].as_str().expect("signature");
    let now = Utc::now();
    assert!(verify_offline(&public_key, payload, signature, now));
    assert_eq!(file["keyId"], key_id.as_str());

    // The certificate block carries the same signed bytes.
    let (enc, sig, kid) = unwrap_certificate(file["certificate"].as_str().expect("certificate"));
    assert_eq!(
        (enc.as_str(), sig.as_str(), kid.as_str()),
        (payload, signature, key_id.as_str())
    );

    // What it states: the license and node, never the key.
    let stated: Value = serde_json::from_str(payload).expect("json");
    assert_eq!(stated["licenseId"], dev.license_id.to_string());
    assert_eq!(stated["fingerprint"], "host-7f3a");
    assert_eq!(stated["status"], "trialing");
    assert_eq!(stated["planCode"], "pro");
    assert_eq!(stated["kid"], key_id.as_str());
    assert_eq!(stated["entitlements"]["max_runtime_nodes"], 2);
    assert!(
        dev.license_key
            .starts_with(stated["keyPrefix"].as_str().expect("prefix"))
    );
    assert!(!payload.contains(&dev.license_key));
    let (issued, expires) = (time(&file["issuedAt"]), time(&file["expiresAt"]));
    assert_eq!(expires - issued, Duration::seconds(3_600));
    assert_eq!(time(&stated["expiresAt"]), expires);

    // Tampered: another node, or a longer life, no longer verifies.
    for (from, to) in [
        ("host-7f3a", "host-0000"),
        (&stated["expiresAt"].as_str().expect("t")[..4], "2099"),
    ] {
        let forged = payload.replacen(from, to, 1);
        assert_ne!(forged, payload);
        assert!(
            !verify_offline(&public_key, &forged, signature, now),
            "{forged}"
        );
    }
    // Expired: the same file, read after its expiry.
    assert!(!verify_offline(
        &public_key,
        payload,
        signature,
        expires + Duration::seconds(1)
    ));

    // Without ttlSeconds, 14 days, but never past the license's own end.
    let license_ends = (Utc::now() + Duration::days(2)).fixed_offset();
    Licenses::update_many()
        .col_expr(licenses::Column::ExpiresAt, Expr::value(license_ends))
        .filter(licenses::Column::Id.eq(dev.license_id))
        .exec(&app.state.db)
        .await
        .expect("update");
    let capped = checkout(&app, &dev.license_key, "host-7f3a", None).await;
    let capped_expiry = time(&capped["data"]["checkoutLicenseFile"]["expiresAt"]);
    assert_eq!(
        capped_expiry.timestamp(),
        license_ends.timestamp(),
        "{capped}"
    );

    let audited = AuditEvents::find()
        .filter(audit_events::Column::EventType.eq("license.checked_out"))
        .filter(audit_events::Column::EntityId.eq(dev.license_id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn checkout_refuses_bad_bounds_unknown_keys_inactive_nodes_and_suspended_licenses() {
    let app = spawn_app().await;
    let dev = app.developer("refused@example.com", "pro").await;

    let no_node = checkout(&app, &dev.license_key, "host-1", None).await;
    assert_eq!(error_code(&no_node), Some("CONFLICT"), "{no_node}");
    assert_eq!(no_node["errors"][0]["extensions"]["reason"], "NO_MACHINE");
    app.node(&dev.license_key, "host-1").await;
    let other_node = checkout(&app, &dev.license_key, "host-2", None).await;
    assert_eq!(
        other_node["errors"][0]["extensions"]["reason"], "FINGERPRINT_SCOPE_MISMATCH",
        "{other_node}"
    );

    for ttl in [3_599, 2_592_001] {
        let body = checkout(&app, &dev.license_key, "host-1", Some(ttl)).await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "ttlSeconds");
    }
    let unknown = checkout(&app, "AAAAA-BBBBB-CCCCC-DDDDD", "host-1", None).await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");

    let admin = app.admin_token().await;
    app.graphql(
        "mutation($id: UUID!) { suspendLicense(id: $id) { state } }",
        json!({ "id": dev.license_id }),
        Some(&admin),
    )
    .await;
    let suspended = checkout(&app, &dev.license_key, "host-1", None).await;
    assert_eq!(error_code(&suspended), Some("CONFLICT"), "{suspended}");
    assert_eq!(suspended["errors"][0]["extensions"]["reason"], "SUSPENDED");
}

#[tokio::test]
async fn a_nonce_signed_validation_verifies_for_its_nonce_and_no_other() {
    let app = spawn_app().await;
    let dev = app.developer("nonce@example.com", "pro").await;
    app.node(&dev.license_key, "host-1").await;
    let (public_key, key_id) = published_key(&app).await;
    let nonce = "c1ient-n0nce-8f2e41";

    let body = app
        .graphql(
            VALIDATE_SIGNED,
            json!({ "key": dev.license_key, "fp": "host-1", "nonce": nonce }),
            None,
        )
        .await;
    let answer = &body["data"]["validateLicense"];
    assert_eq!(answer["code"], "VALID", "{body}");
    let signed = &answer["signature"];
    assert_eq!(signed["keyId"], key_id.as_str());
    let payload = signed["payload"].as_str().expect("payload");
    let signature = BASE64
        .decode(signed["signature"].as_str().expect("signature").as_bytes())
        .expect("base64");
    let verifies = |payload: &str| {
        UnparsedPublicKey::new(&ED25519, &public_key)
            .verify(payload.as_bytes(), &signature)
            .is_ok()
    };
    assert!(verifies(payload));
    let stated: Value = serde_json::from_str(payload).expect("json");
    assert_eq!(stated["type"], "validation");
    assert_eq!(stated["nonce"], nonce);
    assert_eq!(stated["code"], "VALID");
    assert_eq!(stated["fingerprint"], "host-1");
    assert_eq!(stated["licenseId"], dev.license_id.to_string());
    let key_digest = ring::digest::digest(&ring::digest::SHA256, dev.license_key.as_bytes());
    assert_eq!(stated["keySha256"], HEXLOWER.encode(key_digest.as_ref()));
    // A recorded answer replayed to a client that sent another nonce does not verify.
    assert!(!verifies(&payload.replacen(nonce, "another-nonce-0000", 1)));

    let unsigned = app
        .graphql(VALIDATE_SIGNED, json!({ "key": dev.license_key }), None)
        .await;
    assert!(
        unsigned["data"]["validateLicense"]["signature"].is_null(),
        "{unsigned}"
    );
    for bad in ["short", "has spaces in it", &"n".repeat(129)] {
        let body = app
            .graphql(
                VALIDATE_SIGNED,
                json!({ "key": dev.license_key, "nonce": bad }),
                None,
            )
            .await;
        assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "nonce");
    }
}

#[tokio::test]
async fn gateways_with_the_same_key_publish_the_same_key_id_and_retired_keys_stay_published() {
    let seed = [42u8; 32];
    let retired_seed = [7u8; 32];
    let retired = Ed25519KeyPair::from_seed_unchecked(&retired_seed).expect("retired key");
    let config = [
        ("LICENSE_SIGNING_KEY", BASE64.encode(&seed)),
        (
            "LICENSE_SIGNING_KEYS_RETIRED",
            BASE64.encode(retired.public_key().as_ref()),
        ),
    ];
    let config: Vec<(&str, &str)> = config.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (one, two) = tokio::join!(spawn_app_with(&config), spawn_app_with(&config));
    let (first, second) = (published_key(&one).await, published_key(&two).await);
    assert_eq!(first, second);

    // The key id is the SHA-256 of the public key, which is the one the seed makes.
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("key");
    assert_eq!(first.0, pair.public_key().as_ref());
    let digest = ring::digest::digest(&ring::digest::SHA256, pair.public_key().as_ref());
    assert_eq!(first.1, HEXLOWER.encode(digest.as_ref())[..16]);

    // The retired key is still published by its id, no longer current.
    let retired_id = {
        let digest = ring::digest::digest(&ring::digest::SHA256, retired.public_key().as_ref());
        HEXLOWER.encode(digest.as_ref())[..16].to_owned()
    };
    let body = one
        .graphql(SIGNING_KEY, json!({ "kid": retired_id }), None)
        .await;
    assert_eq!(
        body["data"]["licenseSigningKey"]["current"], false,
        "{body}"
    );
    let pem = body["data"]["licenseSigningKey"]["publicKeyPem"]
        .as_str()
        .expect("pem");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let unknown = one
        .graphql(SIGNING_KEY, json!({ "kid": Uuid::nil().to_string() }), None)
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
}
