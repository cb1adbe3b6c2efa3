//! What a license file says and how it is written down.
//!
//! The payload is JSON, signed exactly as sent: a verifier checks the signature over the
//! payload's bytes and only then parses them, so no canonical form is needed and no two JSON
//! libraries have to agree on one. The certificate carries the same payload, signature, key id
//! and algorithm in one block of text a customer can save to a file:
//!
//! ```text
//! -----BEGIN LICENSE FILE-----
//! base64 of {"enc": base64 of the payload, "sig": base64 signature, "alg": "Ed25519", "kid": ...}
//! -----END LICENSE FILE-----
//! ```

use data_encoding::BASE64;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The payload's `type`: a signature over a license file can never be passed off as a signed
/// validation answer (`answers.rs`) or the other way round, though one key signs both.
pub const FILE_TYPE: &str = "license-file";
/// Bumped if a field changes meaning, so verifiers can refuse what they do not know.
pub const FILE_VERSION: u32 = 1;

const BEGIN: &str = "-----BEGIN LICENSE FILE-----";
const END: &str = "-----END LICENSE FILE-----";
/// Base64 line length inside the block, as PEM has it.
const LINE: usize = 64;

/// What a license file states. Never the key: only its visible prefix.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseFilePayload {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u32,
    pub license_id: Uuid,
    pub key_prefix: String,
    pub product: String,
    pub plan_code: String,
    /// The license's state when checked out (`active`, `trialing`, `grace`).
    pub status: String,
    pub payment_state: String,
    /// The plan's entitlements by key, as `entitlements` lists them.
    pub entitlements: BTreeMap<String, Value>,
    /// The runtime node this file is for.
    pub fingerprint: String,
    /// RFC 3339, UTC, whole seconds.
    pub issued_at: String,
    /// The file is not to be trusted after this, offline or not.
    pub expires_at: String,
    /// The license's own end of term, if it has one.
    pub license_expires_at: Option<String>,
    /// The key that signs it, also named outside the signed bytes so a verifier can pick the key.
    pub kid: String,
}

/// The certificate block for a payload and its signature.
pub fn certificate(payload: &str, signature: &str, key_id: &str, algorithm: &str) -> String {
    let envelope = json!({
        "enc": BASE64.encode(payload.as_bytes()),
        "sig": signature,
        "alg": algorithm,
        "kid": key_id,
    });
    let encoded = BASE64.encode(envelope.to_string().as_bytes());
    let mut block = String::with_capacity(encoded.len() + encoded.len() / LINE + 64);
    block.push_str(BEGIN);
    block.push('\n');
    for line in encoded.as_bytes().chunks(LINE) {
        // Base64 is ASCII, so every chunk is text.
        block.push_str(&String::from_utf8_lossy(line));
        block.push('\n');
    }
    block.push_str(END);
    block.push('\n');
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_unwraps_to_the_payload_and_signature() {
        let payload = r#"{"type":"license-file","fingerprint":"host-1"}"#;
        let block = certificate(payload, "c2ln", "0123456789abcdef", "Ed25519");
        assert!(block.starts_with("-----BEGIN LICENSE FILE-----\n"));
        assert!(block.ends_with("-----END LICENSE FILE-----\n"));
        assert!(
            block
                .lines()
                .all(|l| l.len() <= LINE || l.starts_with("-----"))
        );
        let body: String = block.lines().filter(|l| !l.starts_with("-----")).collect();
        let envelope: Value =
            serde_json::from_slice(&BASE64.decode(body.as_bytes()).expect("base64")).expect("json");
        let enc = envelope["enc"].as_str().expect("enc");
        assert_eq!(
            BASE64.decode(enc.as_bytes()).expect("base64"),
            payload.as_bytes()
        );
        assert_eq!(envelope["sig"], "c2ln");
        assert_eq!(envelope["alg"], "Ed25519");
        assert_eq!(envelope["kid"], "0123456789abcdef");
    }
}
