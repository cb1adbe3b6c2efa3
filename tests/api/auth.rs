use crate::helpers::{error_code, spawn_app_with};
use data_encoding::BASE64URL_NOPAD as URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const DEV_SECRET: &str = "dev-only-jwt-secret-do-not-use-in-production";
const OLD_SECRET: &str = "an-older-signing-key-still-accepted-for-now";

fn claims(sub: &str, sid: &str, overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": sub, "role": "developer", "iss": "licensing-gateway", "aud": "licensing-api",
        "exp": now + 600, "nbf": now - 5, "iat": now - 5, "sid": sid,
    });
    for (k, v) in overrides.as_object().expect("object") {
        if v.is_null() {
            claims.as_object_mut().expect("object").remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn sign(kid: &str, secret: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn every_bad_token_is_unauthenticated_and_good_ones_pass() {
    let app = spawn_app_with(&[("JWT_PREVIOUS_KEYS", &format!("old={OLD_SECRET}"))]).await;
    let developer = app.developer("tok@example.com", "solo").await;
    let sub = &developer.id.to_string();
    // The session the developer's own sign-in opened: a token must name a live one.
    let payload = developer.token.split('.').nth(1).expect("payload");
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.as_bytes()).expect("base64"))
            .expect("claims");
    let sid = payload["sid"].as_str().expect("sid");
    let now = chrono::Utc::now().timestamp();

    let good = sign("primary", DEV_SECRET, &claims(sub, sid, json!({})));
    let rotated = sign("old", OLD_SECRET, &claims(sub, sid, json!({})));
    let forged_role = {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            claims(sub, sid, json!({ "role": "admin" }))
                .to_string()
                .as_bytes(),
        );
        parts.join(".")
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"primary"}"#.as_bytes()),
        URL_SAFE_NO_PAD.encode(claims(sub, sid, json!({})).to_string().as_bytes())
    );
    let bad = [
        (
            "expired",
            sign(
                "primary",
                DEV_SECRET,
                &claims(
                    sub,
                    sid,
                    json!({ "exp": now - 3600, "nbf": now - 7200, "iat": now - 7200 }),
                ),
            ),
        ),
        ("tampered", forged_role),
        ("alg none", unsigned),
        (
            "wrong issuer",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "iss": "someone-else" })),
            ),
        ),
        (
            "wrong audience",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "aud": "another-api" })),
            ),
        ),
        (
            "missing audience",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "aud": null })),
            ),
        ),
        (
            "missing nbf",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "nbf": null })),
            ),
        ),
        (
            "issued in the future",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "iat": now + 3600 })),
            ),
        ),
        (
            "unknown kid",
            sign("mystery", DEV_SECRET, &claims(sub, sid, json!({}))),
        ),
        (
            "wrong key",
            sign("primary", OLD_SECRET, &claims(sub, sid, json!({}))),
        ),
        (
            "no session",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "sid": null })),
            ),
        ),
        (
            "a session that does not exist",
            sign(
                "primary",
                DEV_SECRET,
                &claims(sub, sid, json!({ "sid": uuid::Uuid::now_v7().to_string() })),
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];

    for token in [&good, &rotated] {
        let body = app
            .graphql("{ me { email } }", json!({}), Some(token))
            .await;
        assert_eq!(body["data"]["me"]["email"], "tok@example.com", "{body}");
    }
    for (case, token) in bad {
        let response = app
            .post("/graphql")
            .bearer_auth(&token)
            .json(&json!({ "query": "{ plans { code } }" }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 401, "{case}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{case}: {body}");
        assert!(!body.to_string().contains(DEV_SECRET));
    }
}
