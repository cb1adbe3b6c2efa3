//! Instance tokens: `inst_` and 200 random bits in lower-case base32, shown once, stored only
//! as an HMAC-SHA256 digest under the server's key secret, so a leaked database leaks no usable
//! token. The fixed prefix lets the edge tell them from JWTs and license keys without a lookup.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const PREFIX: &str = "inst_";
/// 25 bytes encode to exactly 40 base32 characters.
const TOKEN_BYTES: usize = 25;
/// Random characters kept visible beside `inst_`: 30 of the 200 bits, enough to tell tokens
/// apart in a list, leaving 170 secret.
const VISIBLE: usize = 6;
/// Separates these digests from license-key digests made under the same secret.
const DOMAIN: &[u8] = b"instance-token\0";

/// A token as created: the plaintext goes to the caller once, the rest is stored.
pub struct NewToken {
    pub plaintext: String,
    pub digest: String,
    pub prefix: String,
}

pub fn looks_like_token(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

pub fn generate(secret: &SecretString) -> NewToken {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let encoded = data_encoding::BASE32_NOPAD
        .encode(&bytes)
        .to_ascii_lowercase();
    let plaintext = format!("{PREFIX}{encoded}");
    NewToken {
        digest: digest(secret, &plaintext),
        prefix: plaintext[..PREFIX.len() + VISIBLE].to_owned(),
        plaintext,
    }
}

/// The stored form of a token. Tokens are compared exactly: they are pasted, not typed.
pub fn digest(secret: &SecretString, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(DOMAIN);
    mac.update(token.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("test-secret-that-is-long-enough-000000")
    }

    #[test]
    fn tokens_are_prefixed_unique_and_stored_as_digests() {
        let a = generate(&secret());
        let b = generate(&secret());
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), PREFIX.len() + 40);
        assert!(looks_like_token(&a.plaintext));
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), PREFIX.len() + VISIBLE);
        assert_eq!(a.digest, digest(&secret(), &a.plaintext));
        assert_eq!(a.digest.len(), 64);
        assert!(!a.digest.contains(&a.plaintext[PREFIX.len()..]));
    }

    #[test]
    fn the_digest_depends_on_the_secret_and_differs_from_a_license_key_digest() {
        let token = generate(&secret());
        let other = SecretString::from("another-secret-long-enough-1111111111");
        assert_ne!(digest(&other, &token.plaintext), token.digest);
        let license_keys = crate::domain::licenses::keys::LicenseKeys::new(secret());
        assert_ne!(license_keys.digest(&token.plaintext), token.digest);
    }

    #[test]
    fn jwts_and_license_keys_are_not_mistaken_for_tokens() {
        assert!(!looks_like_token("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert!(!looks_like_token("ABCDE-FGHIJ-KLMNO"));
    }
}
