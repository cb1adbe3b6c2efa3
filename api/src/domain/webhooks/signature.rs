//! Endpoint secrets and the Standard Webhooks signature.
//!
//! The server must sign with an endpoint's secret, so it cannot keep only a one-way digest of
//! it the way it keeps API tokens. Rather than store the secret encrypted, it stores a random
//! seed per endpoint and derives the secret from it under `LICENSE_KEY_SECRET` (an HMAC in a
//! domain of its own, so no other token's digest can stand for it). A copy of the database
//! therefore holds nothing that signs; the secret exists only while a request or a delivery
//! computes it, and in the one answer that shows it. Rotating the secret is a new seed. The
//! price: changing `LICENSE_KEY_SECRET` changes every endpoint's secret (as it already
//! invalidates every stored key and token digest), so endpoints must be given theirs again.

use data_encoding::BASE64 as STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// What a shown secret starts with (the Standard Webhooks convention).
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret: 192 bits.
const SECRET_BYTES: usize = 24;

/// Random bytes in a seed.
const SEED_BYTES: usize = 32;

/// The domain secrets are derived in, apart from every other use of the server secret.
const DOMAIN: &[u8] = b"webhook-signing-secret\0";

/// A fresh seed, as stored (hex).
pub fn new_seed() -> String {
    let mut bytes = [0u8; SEED_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    data_encoding::HEXLOWER.encode(&bytes)
}

/// The secret bytes an endpoint's deliveries are signed with.
pub fn secret_bytes(server_secret: &SecretString, seed: &str) -> SecretSlice<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(server_secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(DOMAIN);
    mac.update(seed.as_bytes());
    let digest = mac.finalize().into_bytes();
    SecretSlice::from(digest[..SECRET_BYTES].to_vec())
}

/// The secret as its owner is shown it once: `whsec_` and the bytes in base64.
pub fn shown_secret(secret: &SecretSlice<u8>) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(secret.expose_secret()))
}

/// The `webhook-signature` header for `body` sent as message `id` at `timestamp` (unix
/// seconds): `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &SecretSlice<u8>, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret())
        .expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> SecretString {
        SecretString::from("test-secret-that-is-long-enough-000000")
    }

    #[test]
    fn the_same_seed_gives_the_same_secret_and_another_seed_another() {
        let seed = new_seed();
        let a = shown_secret(&secret_bytes(&server(), &seed));
        assert_eq!(a, shown_secret(&secret_bytes(&server(), &seed)));
        assert_ne!(a, shown_secret(&secret_bytes(&server(), &new_seed())));
        let other = SecretString::from("another-secret-long-enough-1111111111");
        assert_ne!(a, shown_secret(&secret_bytes(&other, &seed)));
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 32);
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The specification's published example.
        let secret = SecretSlice::from(
            STANDARD
                .decode(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .expect("base64"),
        );
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
