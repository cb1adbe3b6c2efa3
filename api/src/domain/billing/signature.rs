//! Checking a payment provider's webhook signature before anything else is read. The scheme is
//! the provider's: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]`, the MAC
//! taken over `<t>.<raw body>` with the endpoint's signing secret. Any configured secret may
//! match (several live together while one is rotated); a timestamp further than the tolerance
//! from now is refused, so a captured request cannot be replayed later.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Why a request was refused; each is answered 400 and nothing is stored.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    MissingHeader,
    MalformedHeader,
    TooOld,
    NoMatch,
    NoSecret,
}

impl Refused {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader => "missing Stripe-Signature header",
            Self::MalformedHeader => "malformed Stripe-Signature header",
            Self::TooOld => "signature timestamp outside the tolerance",
            Self::NoMatch => "no signature matches",
            Self::NoSecret => "no webhook signing secret is configured",
        }
    }
}

/// Longest header read: a few signatures, never a body's worth.
const MAX_HEADER_CHARS: usize = 1_024;

/// Checks `header` against `body` at `now`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    tolerance_seconds: i64,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    if secrets.is_empty() {
        return Err(Refused::NoSecret);
    }
    let header = header.ok_or(Refused::MissingHeader)?;
    if header.len() > MAX_HEADER_CHARS {
        return Err(Refused::MalformedHeader);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(Refused::MalformedHeader)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| Refused::MalformedHeader)?),
            "v1" => signatures.push(
                data_encoding::HEXLOWER_PERMISSIVE
                    .decode(value.as_bytes())
                    .map_err(|_| Refused::MalformedHeader)?,
            ),
            // Other schemes (v0: test mode's) are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refused::MalformedHeader)?;
    if signatures.is_empty() {
        return Err(Refused::MalformedHeader);
    }
    if now.timestamp().abs_diff(timestamp) > tolerance_seconds.unsigned_abs() {
        return Err(Refused::TooOld);
    }
    let matches = secrets.iter().any(|secret| {
        // `verify_slice` compares in constant time: a refusal's timing tells a guesser nothing.
        signatures.iter().any(|signature| {
            mac_for(secret, timestamp, body)
                .verify_slice(signature)
                .is_ok()
        })
    });
    if matches {
        Ok(())
    } else {
        Err(Refused::NoMatch)
    }
}

fn mac_for(secret: &SecretString, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// A header as the provider would write it: for tests and the README's example.
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let signature = mac_for(secret, timestamp, body).finalize().into_bytes();
    format!(
        "t={timestamp},v1={}",
        data_encoding::HEXLOWER.encode(&signature)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn a_signature_by_any_configured_secret_within_the_tolerance_passes() {
        let now = Utc::now();
        let body = br#"{"id":"evt_1"}"#;
        let old = secret("whsec_old");
        let new = secret("whsec_new");
        let header = sign(&new, now.timestamp(), body);
        assert_eq!(
            verify(Some(&header), body, &[old.clone(), new.clone()], 300, now),
            Ok(())
        );
        assert_eq!(
            verify(Some(&header), body, std::slice::from_ref(&old), 300, now),
            Err(Refused::NoMatch)
        );
        let tampered = br#"{"id":"evt_2"}"#;
        assert_eq!(
            verify(
                Some(&header),
                tampered,
                std::slice::from_ref(&new),
                300,
                now
            ),
            Err(Refused::NoMatch)
        );
        let stale = sign(&new, now.timestamp() - 301, body);
        assert_eq!(
            verify(Some(&stale), body, std::slice::from_ref(&new), 300, now),
            Err(Refused::TooOld)
        );
        // A second signature (the provider's during its own rotation) may be the matching one.
        let both = format!(
            "{},v1={}",
            sign(&old, now.timestamp(), body),
            "00".repeat(32)
        );
        assert_eq!(verify(Some(&both), body, &[old], 300, now), Ok(()));
    }

    #[test]
    fn malformed_and_missing_headers_are_refused() {
        let now = Utc::now();
        let secrets = [secret("whsec_x")];
        for header in ["", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=zz", "nonsense"] {
            assert_eq!(
                verify(Some(header), b"{}", &secrets, 300, now),
                Err(Refused::MalformedHeader),
                "{header:?}"
            );
        }
        assert_eq!(
            verify(None, b"{}", &secrets, 300, now),
            Err(Refused::MissingHeader)
        );
        assert_eq!(
            verify(Some("t=1,v1=00"), b"{}", &[], 300, now),
            Err(Refused::NoSecret)
        );
        let long = format!("t=1,{}", "v1=00,".repeat(400));
        assert_eq!(
            verify(Some(&long), b"{}", &secrets, 300, now),
            Err(Refused::MalformedHeader)
        );
    }
}
