//! Argon2id password hashing, run off the async threads because it is deliberately slow, and
//! a few at a time: each hash takes a core and tens of megabytes, so a burst of logins waits
//! its turn instead of taking the machine.

use crate::error::{AppError, AppResult};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Verified against when an account does not exist, so a wrong email costs what a wrong
/// password costs and timing does not reveal which emails are registered.
static DECOY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"decoy password for unknown accounts")
        .ok()
        .map(|h| h.to_string())
});

/// Hashing and verifying, at most `concurrency` at once.
pub struct Passwords {
    permits: Semaphore,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Semaphore::new(concurrency.max(1)),
        }
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        let _turn = self.permits.acquire().await.map_err(AppError::internal)?;
        hash(password).await
    }

    /// True when the password matches; with no stored hash it still does the same work.
    pub async fn verify(&self, password: String, stored: Option<String>) -> AppResult<bool> {
        let _turn = self.permits.acquire().await.map_err(AppError::internal)?;
        verify(password, stored).await
    }
}

async fn hash(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

async fn verify(password: String, stored: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let Some(hash) = stored.or_else(|| DECOY_HASH.clone()) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        known && matches
    })
    .await
    .map_err(AppError::internal)
}

/// Warms the decoy hash at startup so the first unknown-email login is not the fast one.
pub fn prepare() {
    LazyLock::force(&DECOY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let stored = hash("correct horse 42".into()).await.expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse 42".into(), Some(stored.clone()))
                .await
                .expect("ok")
        );
        assert!(
            !verify("wrong horse 42".into(), Some(stored))
                .await
                .expect("ok")
        );
        assert!(!verify("anything".into(), None).await.expect("ok"));
    }
}
