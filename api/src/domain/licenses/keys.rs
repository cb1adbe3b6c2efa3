//! License keys: 200 random bits in readable groups, shown once, stored only as an
//! HMAC-SHA256 digest under a server secret, so a leaked database leaks no usable key.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Random bytes per key: 25 bytes encode to exactly 40 base32 characters.
const KEY_BYTES: usize = 25;
const GROUP: usize = 5;

pub struct LicenseKeys {
    secret: SecretString,
}

/// A key as created: the plaintext goes to the caller once, the rest is stored.
pub struct NewKey {
    pub plaintext: String,
    pub digest: String,
    pub prefix: String,
}

impl LicenseKeys {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    pub fn generate(&self) -> NewKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let encoded = data_encoding::BASE32_NOPAD.encode(&bytes);
        let groups: Vec<&str> = encoded
            .as_bytes()
            .chunks(GROUP)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        let plaintext = groups.join("-");
        NewKey {
            digest: self.digest(&plaintext),
            prefix: groups.first().copied().unwrap_or_default().to_owned(),
            plaintext,
        }
    }

    /// The stored form of a key; input is normalised so case and spacing do not matter.
    pub fn digest(&self, key: &str) -> String {
        let normalised: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(normalised.as_bytes());
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> LicenseKeys {
        LicenseKeys::new(SecretString::from("test-secret-that-is-long-enough-000000"))
    }

    #[test]
    fn keys_are_grouped_unique_and_stored_as_digests() {
        let keys = keys();
        let a = keys.generate();
        let b = keys.generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), 40 + 7);
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.digest.len(), 64);
        assert!(!a.digest.contains(&a.prefix));
        assert_eq!(
            keys.digest(&a.plaintext.to_lowercase().replace('-', " ")),
            a.digest
        );
    }

    #[test]
    fn the_digest_depends_on_the_server_secret() {
        let other = LicenseKeys::new(SecretString::from("another-secret-long-enough-1111111111"));
        let key = keys().generate();
        assert_ne!(other.digest(&key.plaintext), key.digest);
    }
}
