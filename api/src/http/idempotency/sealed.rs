//! A stored answer can hold a secret shown once (a new license's key, an API token), so it is
//! kept sealed: encrypted under a key derived from the server's key secret and the client's
//! idempotency key, which is itself stored only as a digest. The database alone opens nothing;
//! only the caller retrying with its key does.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const NONCE_BYTES: usize = 12;

/// One caller's idempotency key, as the store knows it and as the answer is sealed under it.
pub struct Sealer {
    lookup: String,
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    pub fn new(secret: &SecretString, caller: &str, key: &str) -> Self {
        let lookup = derive(secret, b"idempotency-key\0", caller, key);
        let sealing = derive(secret, b"idempotency-answer\0", caller, key);
        Self {
            lookup: data_encoding::HEXLOWER.encode(&lookup),
            cipher: ChaCha20Poly1305::new(&Key::from(sealing)),
        }
    }

    /// What the store keeps of the key.
    pub fn lookup(&self) -> &str {
        &self.lookup
    }

    /// `answer` encrypted, as base64 of a random nonce and the ciphertext.
    pub fn seal(&self, answer: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), answer.as_bytes())
            .ok()?;
        let mut stored = nonce.to_vec();
        stored.extend(sealed);
        Some(data_encoding::BASE64.encode(&stored))
    }

    /// The answer `seal` made, or nothing if it was sealed under another key or altered.
    pub fn open(&self, stored: &str) -> Option<String> {
        let stored = data_encoding::BASE64.decode(stored.as_bytes()).ok()?;
        if stored.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = stored.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let answer = self.cipher.decrypt(&Nonce::from(nonce), sealed).ok()?;
        String::from_utf8(answer).ok()
    }
}

fn derive(secret: &SecretString, domain: &[u8], caller: &str, key: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(domain);
    mac.update(caller.as_bytes());
    mac.update(b"\0");
    mac.update(key.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_opens_only_under_the_key_and_caller_it_was_sealed_for() {
        let secret = SecretString::from("server secret");
        let sealer = Sealer::new(&secret, "user:1", "key-1");
        let sealed = sealer.seal("{\"data\":{}}").expect("sealed");
        assert!(!sealed.contains("data"));
        assert_eq!(sealer.open(&sealed).as_deref(), Some("{\"data\":{}}"));
        assert_eq!(Sealer::new(&secret, "user:1", "key-2").open(&sealed), None);
        assert_eq!(Sealer::new(&secret, "user:2", "key-1").open(&sealed), None);
        assert_ne!(
            sealer.lookup(),
            Sealer::new(&secret, "user:2", "key-1").lookup()
        );
    }
}
