//! Opaque tokens: a typed prefix and 200 random bits in lower-case base32, shown once, stored
//! only as an HMAC-SHA256 digest under the server's key secret, so a leaked database leaks no
//! usable token. The prefix tells the kinds apart at the edge without a lookup: `pk_live_` for a
//! partner's API token, `inst_` for an instance's token, `rt_` for a refresh token, and the
//! single-use tokens mailed as links: `inv_` (an invitation), `ev_` (email verification), `pr_`
//! (password reset).

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// 25 bytes encode to exactly 40 base32 characters.
const TOKEN_BYTES: usize = 25;
/// Random characters kept visible beside the prefix: 30 of the 200 bits, enough to tell tokens
/// apart in a list, leaving 170 secret.
const VISIBLE: usize = 6;

/// One kind of token: its visible prefix, and the domain its digests are made in (so no kind's
/// digest, nor a license key's under the same secret, can stand for another's).
pub struct Kind {
    pub prefix: &'static str,
    domain: &'static [u8],
}

pub const INSTANCE: Kind = Kind {
    prefix: "inst_",
    domain: b"instance-token\0",
};

/// A partner's API token (`createApiToken`).
pub const API: Kind = Kind {
    prefix: "pk_live_",
    domain: b"api-token\0",
};

pub const REFRESH: Kind = Kind {
    prefix: "rt_",
    domain: b"refresh-token\0",
};

pub const INVITATION: Kind = Kind {
    prefix: "inv_",
    domain: b"invitation\0",
};

pub const EMAIL_VERIFICATION: Kind = Kind {
    prefix: "ev_",
    domain: b"email-verification\0",
};

pub const PASSWORD_RESET: Kind = Kind {
    prefix: "pr_",
    domain: b"password-reset\0",
};

/// A token as created: the plaintext goes to the caller once, the rest is stored.
pub struct NewToken {
    pub plaintext: String,
    pub digest: String,
    pub prefix: String,
}

impl Kind {
    pub fn looks_like(&self, credential: &str) -> bool {
        credential.starts_with(self.prefix)
    }

    pub fn generate(&self, secret: &SecretString) -> NewToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let encoded = data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase();
        let plaintext = format!("{}{encoded}", self.prefix);
        NewToken {
            digest: self.digest(secret, &plaintext),
            prefix: plaintext[..self.prefix.len() + VISIBLE].to_owned(),
            plaintext,
        }
    }

    /// The stored form of a token. Tokens are compared exactly: they are pasted, not typed.
    pub fn digest(&self, secret: &SecretString, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        mac.update(self.domain);
        mac.update(token.as_bytes());
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("test-secret-that-is-long-enough-000000")
    }

    #[test]
    fn tokens_are_prefixed_unique_and_stored_as_digests() {
        let a = INSTANCE.generate(&secret());
        let b = INSTANCE.generate(&secret());
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), INSTANCE.prefix.len() + 40);
        assert!(INSTANCE.looks_like(&a.plaintext));
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), INSTANCE.prefix.len() + VISIBLE);
        assert_eq!(a.digest, INSTANCE.digest(&secret(), &a.plaintext));
        assert_eq!(a.digest.len(), 64);
        assert!(!a.digest.contains(&a.plaintext[INSTANCE.prefix.len()..]));
    }

    #[test]
    fn the_digest_depends_on_the_secret_and_differs_from_a_license_key_digest() {
        let token = INSTANCE.generate(&secret());
        let other = SecretString::from("another-secret-long-enough-1111111111");
        assert_ne!(INSTANCE.digest(&other, &token.plaintext), token.digest);
        let license_keys = crate::domain::licenses::keys::LicenseKeys::new(secret());
        assert_ne!(license_keys.digest(&token.plaintext), token.digest);
        assert_ne!(REFRESH.digest(&secret(), &token.plaintext), token.digest);
    }

    #[test]
    fn jwts_and_license_keys_are_not_mistaken_for_tokens() {
        for kind in [
            API,
            INSTANCE,
            REFRESH,
            INVITATION,
            EMAIL_VERIFICATION,
            PASSWORD_RESET,
        ] {
            assert!(!kind.looks_like("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
            assert!(!kind.looks_like("ABCDE-FGHIJ-KLMNO"));
        }
        assert!(!REFRESH.looks_like(&INSTANCE.generate(&secret()).plaintext));
    }
}
