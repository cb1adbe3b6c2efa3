//! Validation answers signed over the client's nonce, so a recorded answer cannot be replayed.
//!
//! A client that cannot trust the network between it and the gateway (a proxy that could
//! answer VALID for a revoked license) sends a fresh random nonce with `validateLicense` and
//! checks that the answer's signature verifies under the published key and that the signed
//! payload carries its nonce and a digest of the key it sent. A recorded answer carries another
//! nonce; an answer for someone else's valid key carries another key digest.
//!
//! Each answer is signed for its own request, after its own lookup: nothing signed is kept or
//! shared between requests, so the validation path's batching never hands one caller's
//! signature to another.

use super::signing::LicenseSigner;
use crate::domain::validation::service::Validation;
use crate::domain::validation::verdict::ValidationCode;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use data_encoding::HEXLOWER;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The payload's `type` (see `file::FILE_TYPE`).
pub const VALIDATION_TYPE: &str = "validation";

/// Nonce length bounds: long enough to be unguessable, short enough to sign cheaply.
const NONCE_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

/// A client's nonce, checked: 8 to 128 printable ASCII characters (no spaces), so it can be
/// compared byte for byte after a round trip through any JSON library.
pub struct Nonce(String);

impl Nonce {
    pub fn parse(raw: String) -> AppResult<Self> {
        if !NONCE_CHARS.contains(&raw.len()) || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::validation(
                "nonce",
                "8 to 128 printable ASCII characters, no spaces",
            ));
        }
        Ok(Self(raw))
    }
}

/// What a validation was asked: the signature binds the answer to it.
pub struct Asked<'a> {
    pub key: &'a str,
    pub fingerprint: Option<&'a str>,
    pub product: Option<&'a str>,
}

/// The signed answer, as the client receives it.
pub struct SignedAnswer {
    pub key_id: String,
    pub signed_at: DateTime<Utc>,
    /// The exact bytes signed (JSON).
    pub payload: String,
    /// Base64 of the 64 signature bytes.
    pub signature: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidationPayload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    nonce: &'a str,
    signed_at: String,
    kid: &'a str,
    /// Hex SHA-256 of the key exactly as sent: binds the answer to the key without showing it.
    key_sha256: String,
    fingerprint: Option<&'a str>,
    product: Option<&'a str>,
    valid: bool,
    code: &'static str,
    license_id: Option<Uuid>,
    status: Option<&'a str>,
    license_expires_at: Option<String>,
}

/// Signs the decisive fields of `found` with the nonce and the time.
pub fn sign_validation(
    signer: &LicenseSigner,
    now: DateTime<Utc>,
    nonce: &Nonce,
    asked: &Asked<'_>,
    found: &Validation,
) -> SignedAnswer {
    let signed_at = now.trunc_subsecs(0);
    let kid = &signer.current().key_id;
    let license = found.license.as_ref();
    let payload = ValidationPayload {
        kind: VALIDATION_TYPE,
        nonce: &nonce.0,
        signed_at: rfc3339(signed_at),
        kid,
        key_sha256: HEXLOWER.encode(&Sha256::digest(asked.key.as_bytes())),
        fingerprint: asked.fingerprint,
        product: asked.product,
        valid: found.code == ValidationCode::Valid,
        code: found.code.as_str(),
        license_id: license.map(|l| l.id),
        status: license.map(|l| l.state.as_str()),
        license_expires_at: license.and_then(|l| l.expires_at).map(rfc3339),
    };
    // Serialising a struct of strings, numbers and options cannot fail.
    let payload = serde_json::to_string(&payload).unwrap_or_default();
    let signed = signer.sign(payload.as_bytes());
    SignedAnswer {
        key_id: signed.key_id,
        signed_at,
        payload,
        signature: signed.signature,
    }
}

/// Times in signed payloads: RFC 3339, UTC, whole seconds (`2026-11-27T10:00:00Z`).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_bounded_and_printable() {
        assert!(Nonce::parse("n0nce-1234".into()).is_ok());
        assert!(Nonce::parse("x".repeat(128)).is_ok());
        for bad in [
            "short",
            "has a space",
            "tab\there!",
            "nul\0nonce",
            "é-accented",
        ] {
            assert!(Nonce::parse(bad.into()).is_err(), "{bad:?}");
        }
        assert!(Nonce::parse("x".repeat(129)).is_err());
    }
}
