//! The Ed25519 key that signs license files and nonce-bound validation answers, and the public
//! keys verifiers are told about.
//!
//! Every gateway sharing a database must sign with the same key, or a file checked out on one
//! would not verify against the key another publishes. So the key is configured
//! (`LICENSE_SIGNING_KEY`) or, when it is not, derived from `LICENSE_KEY_SECRET`, which every
//! gateway of a deployment already shares (and production refuses at its default). A derived
//! key moves only with that secret; setting `LICENSE_SIGNING_KEY` lets it rotate on its own.
//!
//! A key is named by its key id: the first 16 hex digits of the SHA-256 of its public key, so
//! it changes with the key and needs no setting of its own. Retired keys
//! (`LICENSE_SIGNING_KEYS_RETIRED`) sign nothing but are still published, so files they signed
//! keep verifying until they expire.

use crate::config::LicensingConfig;
use data_encoding::{BASE64, HEXLOWER};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

/// The one signature algorithm, as named in answers and files.
pub const ALGORITHM: &str = "Ed25519";

/// What a derived seed is the HMAC of, under `LICENSE_KEY_SECRET`: a label of its own, so the
/// seed is unrelated to any license key's digest made under the same secret.
const DERIVATION_LABEL: &[u8] = b"license-signing-key/ed25519/v1";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the algorithm's OID and the
/// bit string header; the 32 key bytes follow. Fixed, so no ASN.1 library is needed.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A public key verifiers may fetch: the current one, or a retired one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    pub key_id: String,
    pub public_key: [u8; 32],
    /// Whether new files and answers are signed with it.
    pub current: bool,
}

impl PublishedKey {
    fn new(public_key: [u8; 32], current: bool) -> Self {
        Self {
            key_id: key_id(&public_key),
            public_key,
            current,
        }
    }

    /// The raw 32 bytes, base64 (standard, padded).
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(&self.public_key)
    }

    /// The key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), which most crypto libraries load.
    pub fn public_key_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.public_key);
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(&der)
        )
    }
}

/// A signature, with the key that made it.
pub struct Signed {
    pub key_id: String,
    /// The 64 signature bytes, base64.
    pub signature: String,
}

/// Signs with the current key; knows every published key.
pub struct LicenseSigner {
    key: SigningKey,
    published: Vec<PublishedKey>,
}

/// Never prints the key: only what is public.
impl fmt::Debug for LicenseSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LicenseSigner")
            .field("published", &self.published)
            .finish_non_exhaustive()
    }
}

impl LicenseSigner {
    /// The signer the configuration describes. Fails on a key that is not one (the config
    /// checks lengths; a retired public key must also be a point on the curve).
    pub fn from_config(
        licensing: &LicensingConfig,
        license_key_secret: &SecretString,
    ) -> anyhow::Result<Self> {
        let seed = match &licensing.signing_key {
            Some(configured) => seed_from_base64(configured)?,
            None => derived_seed(license_key_secret),
        };
        let mut signer = Self::from_seed(&seed);
        for retired in &licensing.retired_signing_keys {
            let bytes: [u8; 32] = BASE64
                .decode(retired.as_bytes())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("LICENSE_SIGNING_KEYS_RETIRED: not a 32-byte public key")
                })?;
            VerifyingKey::from_bytes(&bytes).map_err(|_| {
                anyhow::anyhow!("LICENSE_SIGNING_KEYS_RETIRED: not an Ed25519 public key")
            })?;
            let key = PublishedKey::new(bytes, false);
            if !signer.published.iter().any(|p| p.key_id == key.key_id) {
                signer.published.push(key);
            }
        }
        Ok(signer)
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let current = PublishedKey::new(key.verifying_key().to_bytes(), true);
        Self {
            key,
            published: vec![current],
        }
    }

    /// The key new files and answers are signed with.
    pub fn current(&self) -> &PublishedKey {
        // `from_seed` puts the current key first, and nothing removes it.
        &self.published[0]
    }

    /// A published key by id: the current one or a retired one.
    pub fn published(&self, key_id: &str) -> Option<&PublishedKey> {
        self.published.iter().find(|k| k.key_id == key_id)
    }

    /// Signs exactly these bytes with the current key (about 20 µs: cheap enough for the
    /// validation path).
    pub fn sign(&self, message: &[u8]) -> Signed {
        Signed {
            key_id: self.current().key_id.clone(),
            signature: BASE64.encode(&self.key.sign(message).to_bytes()),
        }
    }
}

/// A key's id: the first 16 hex digits of the SHA-256 of its public key.
fn key_id(public_key: &[u8; 32]) -> String {
    let digest = HEXLOWER.encode(&Sha256::digest(public_key));
    digest[..16].to_owned()
}

fn seed_from_base64(configured: &SecretString) -> anyhow::Result<[u8; 32]> {
    // The message names the setting, never its value.
    BASE64
        .decode(configured.expose_secret().as_bytes())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("LICENSE_SIGNING_KEY must be base64 of a 32-byte seed"))
}

/// The seed every gateway sharing `LICENSE_KEY_SECRET` derives alike.
fn derived_seed(license_key_secret: &SecretString) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(license_key_secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(DERIVATION_LABEL);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    fn config(signing_key: Option<&str>, retired: &[&str]) -> LicensingConfig {
        let mut config = crate::config::Config::from_lookup(|_| None)
            .expect("defaults")
            .licensing;
        config.signing_key = signing_key.map(SecretString::from);
        config.retired_signing_keys = retired.iter().map(|k| (*k).to_owned()).collect();
        config
    }

    fn secret(text: &str) -> SecretString {
        SecretString::from(text)
    }

    #[test]
    fn a_derived_key_is_the_same_for_the_same_secret_and_differs_for_another() {
        let one = LicenseSigner::from_config(&config(None, &[]), &secret("a".repeat(40).as_str()))
            .expect("signer");
        let again =
            LicenseSigner::from_config(&config(None, &[]), &secret("a".repeat(40).as_str()))
                .expect("signer");
        let other =
            LicenseSigner::from_config(&config(None, &[]), &secret("b".repeat(40).as_str()))
                .expect("signer");
        assert_eq!(one.current(), again.current());
        assert_ne!(one.current().key_id, other.current().key_id);
        assert_eq!(one.current().key_id.len(), 16);
    }

    #[test]
    fn signatures_verify_under_the_published_key_and_retired_keys_are_found() {
        let seed = BASE64.encode(&[9u8; 32]);
        let retired_key = LicenseSigner::from_seed(&[3u8; 32]);
        let retired = retired_key.current().public_key_base64();
        let signer = LicenseSigner::from_config(
            &config(Some(&seed), &[retired.as_str()]),
            &secret("unused-because-a-key-is-configured"),
        )
        .expect("signer");
        let signed = signer.sign(b"payload");
        let public = VerifyingKey::from_bytes(&signer.current().public_key).expect("key");
        let bytes: [u8; 64] = BASE64
            .decode(signed.signature.as_bytes())
            .expect("base64")
            .try_into()
            .expect("64 bytes");
        let signature = Signature::from_bytes(&bytes);
        assert!(public.verify(b"payload", &signature).is_ok());
        assert!(public.verify(b"payloaD", &signature).is_err());
        let old = signer
            .published(&retired_key.current().key_id)
            .expect("retired key published");
        assert!(!old.current);
        assert!(signer.published("0000000000000000").is_none());
        assert!(!format!("{signer:?}").contains(&seed));
    }

    #[test]
    fn the_pem_is_a_subject_public_key_info() {
        let signer = LicenseSigner::from_seed(&[1u8; 32]);
        let pem = signer.current().public_key_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = BASE64.decode(body.as_bytes()).expect("base64");
        assert_eq!(der.len(), 44);
        assert_eq!(&der[..12], &SPKI_PREFIX);
        assert_eq!(&der[12..], &signer.current().public_key);
    }
}
