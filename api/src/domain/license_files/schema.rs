use super::answers::SignedAnswer;
use super::service::{self, CheckedOutFile};
use super::signing::{ALGORITHM, PublishedKey};
use crate::auth::Audience;
use crate::domain::validation::schema::key_bearer;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown_or_not_found};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

/// A public key that verifies license files and signed validation answers.
pub struct LicenseSigningKey(PublishedKey);

impl Guarded for LicenseSigningKey {
    type Row = PublishedKey;

    /// A public key is for everyone: verifiers fetch it without signing in.
    fn audience(_: &PublishedKey) -> Audience {
        Audience::Everyone
    }

    fn wrap(row: PublishedKey, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl LicenseSigningKey {
    /// Names the key in files and answers (`kid`); changes when the key does.
    async fn key_id(&self) -> &str {
        &self.0.key_id
    }
    async fn algorithm(&self) -> &'static str {
        ALGORITHM
    }
    /// The raw 32-byte public key, base64.
    async fn public_key(&self) -> String {
        self.0.public_key_base64()
    }
    /// The same key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    async fn public_key_pem(&self) -> String {
        self.0.public_key_pem()
    }
    /// Whether new files and answers are signed with it (false: retired, still verifying the
    /// files it signed).
    async fn current(&self) -> bool {
        self.0.current
    }
}

/// A license file for one runtime node, signed for offline verification.
pub struct LicenseFile(CheckedOutFile);

impl Guarded for LicenseFile {
    type Row = CheckedOutFile;

    /// What a license's runtime works with, as its standing is.
    fn audience(row: &CheckedOutFile) -> Audience {
        Audience::Runtime {
            license: row.license_id,
            developer: row.developer_id,
        }
    }

    fn wrap(row: CheckedOutFile, _: Seen) -> Self {
        Self(row)
    }
}

#[Object]
impl LicenseFile {
    /// The whole file as one text block (`-----BEGIN LICENSE FILE-----`): base64 of
    /// `{"enc", "sig", "alg", "kid"}`, `enc` being base64 of `payload`.
    async fn certificate(&self) -> &str {
        &self.0.certificate
    }
    /// The signed JSON, exactly as signed: verify first, then parse.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
    /// Base64 of the 64-byte Ed25519 signature over `payload`.
    async fn signature(&self) -> &str {
        &self.0.signature
    }
    async fn key_id(&self) -> &str {
        &self.0.key_id
    }
    async fn algorithm(&self) -> &'static str {
        ALGORITHM
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
    /// Not to be trusted after this, offline or not.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
}

/// A validation answer signed over the client's nonce.
#[derive(SimpleObject)]
pub struct ValidationSignature {
    key_id: String,
    algorithm: &'static str,
    signed_at: DateTime<Utc>,
    /// The signed JSON: the nonce, the time, a digest of the key and the answer's decisive
    /// fields.
    payload: String,
    /// Base64 of the 64-byte Ed25519 signature over `payload`.
    signature: String,
}

impl From<SignedAnswer> for ValidationSignature {
    fn from(answer: SignedAnswer) -> Self {
        Self {
            key_id: answer.key_id,
            algorithm: ALGORITHM,
            signed_at: answer.signed_at,
            payload: answer.payload,
            signature: answer.signature,
        }
    }
}

#[derive(Default)]
pub struct LicenseFilesQuery;

#[Object]
impl LicenseFilesQuery {
    /// The public key that verifies license files and signed validation answers (no sign-in).
    /// With `keyId`, that key, current or retired, while it is published; NOT_FOUND otherwise.
    async fn license_signing_key(
        &self,
        ctx: &Context<'_>,
        key_id: Option<String>,
    ) -> Result<LicenseSigningKey> {
        let actor = ctx.actor()?;
        let key = service::published_key(actor, key_id.as_deref())?;
        Ok(shown_or_not_found(actor, key, "license signing key")?)
    }
}

#[derive(Default)]
pub struct LicenseFilesMutation;

#[Object]
impl LicenseFilesMutation {
    /// A signed license file for an activated runtime node, to verify offline until it
    /// expires (the key is the credential; no sign-in). `ttlSeconds`: 3600 to 2592000, 14 days
    /// by default, never past the license's own end. An unknown key is NOT_FOUND; a license or
    /// node that `validateLicense` would not answer VALID is CONFLICT, its reason that code.
    async fn checkout_license_file(
        &self,
        ctx: &Context<'_>,
        key: String,
        fingerprint: String,
        ttl_seconds: Option<i32>,
    ) -> Result<LicenseFile> {
        let actor = ctx.actor()?;
        let file = service::checkout(actor, &key, &fingerprint, ttl_seconds.map(i64::from)).await?;
        let bearer = key_bearer(actor, file.license_id);
        Ok(shown_or_not_found(&bearer, file, "license")?)
    }
}
