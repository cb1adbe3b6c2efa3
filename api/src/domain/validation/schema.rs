use super::service::{self, ValidatedLicense};
use super::verdict::ValidationCode;
use crate::auth::{Actor, Audience, Caller};
use crate::domain::license_files::answers::{Asked, Nonce, sign_validation};
use crate::domain::license_files::schema::ValidationSignature;
use crate::domain::licenses::model::LicenseState;
use crate::domain::plans::loaders::EntitlementsByPlan;
use crate::domain::plans::schema::Entitlements;
use crate::error::AppError;
use crate::events::overrun::OnLag;
use crate::events::resume;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown};
use async_graphql::{Context, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

/// What a license-key holder may learn about its license.
pub struct LicenseStatus(ValidatedLicense);

impl Guarded for LicenseStatus {
    type Row = ValidatedLicense;

    fn audience(row: &ValidatedLicense) -> Audience {
        Audience::Runtime {
            license: row.id,
            developer: row.developer_id,
        }
    }

    fn wrap(row: ValidatedLicense, _: Seen) -> Self {
        Self(row)
    }
}

/// The request as the bearer of the key that opened `license`: a validation or heartbeat by
/// key answers what that key may see, whoever sent it.
pub fn key_bearer(actor: &Actor, license: Uuid) -> Actor {
    actor.acting_as(Caller::LicenseKey {
        license_id: license,
    })
}

#[Object]
impl LicenseStatus {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn state(&self) -> Result<Option<LicenseState>> {
        Ok(Some(LicenseState::from_stored(&self.0.state)?))
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Option<Entitlements>> {
        let found = ctx
            .loader::<EntitlementsByPlan>()?
            .load_one(self.0.plan_id)
            .await?;
        Ok(found.map(Entitlements::from_row).transpose()?)
    }
}

#[derive(SimpleObject)]
pub struct ValidationResult {
    valid: bool,
    code: ValidationCode,
    detail: String,
    /// Null when the key matched no license.
    license: Option<LicenseStatus>,
    /// With a `nonce`: this answer signed over it, so a recorded answer cannot be replayed.
    signature: Option<ValidationSignature>,
}

impl ValidationResult {
    fn from_validation(actor: &Actor, found: service::Validation) -> Self {
        Self {
            valid: found.code == ValidationCode::Valid,
            code: found.code,
            detail: found.code.detail().to_owned(),
            license: found
                .license
                .and_then(|l| shown(&key_bearer(actor, l.id), l)),
            signature: None,
        }
    }
}

#[derive(Default)]
pub struct ValidationQuery;

#[Object]
impl ValidationQuery {
    /// Checks a license key (the key is the credential; no sign-in). With a fingerprint it also
    /// checks that node; with a product, that the license covers it. An unknown key and a
    /// wrong key answer alike: NOT_FOUND. With a `nonce` (8 to 128 printable ASCII characters,
    /// fresh for each call), the answer carries `signature`: its decisive fields, the nonce and
    /// the time, signed with the key `licenseSigningKey` publishes.
    async fn validate_license(
        &self,
        ctx: &Context<'_>,
        key: String,
        fingerprint: Option<String>,
        product: Option<String>,
        nonce: Option<String>,
    ) -> Result<ValidationResult> {
        let actor = ctx.actor()?;
        let nonce = nonce.map(Nonce::parse).transpose()?;
        let (fingerprint, product) = (fingerprint.as_deref(), product.as_deref());
        let found = service::validate_guarded(actor, &key, fingerprint, product).await?;
        let signature = nonce.map(|nonce| {
            let asked = Asked {
                key: &key,
                fingerprint,
                product,
            };
            let signer = &actor.app.license_signer;
            sign_validation(signer, actor.now, &nonce, &asked, &found).into()
        });
        Ok(ValidationResult {
            signature,
            ..ValidationResult::from_validation(actor, found)
        })
    }
}

/// How often a standing is looked at again without a change: a term can run out with no
/// event (before the scheduler's job moves it).
const STANDING_RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

#[derive(Default)]
pub struct ValidationSubscription;

#[Subscription]
impl ValidationSubscription {
    /// The standing of the license whose key opened the socket (`connection_init` with
    /// `{"Authorization": "<license key>"}`; no user token): what `validateLicense` would answer
    /// its key, sent at once and again within a second of any change to it (suspended, revoked,
    /// expired, a payment failing, a seat or runtime node changing), from any gateway. With
    /// `fingerprint`, that runtime node's standing too.
    async fn license_status(
        &self,
        ctx: &Context<'_>,
        fingerprint: Option<String>,
    ) -> Result<impl Stream<Item = ValidationResult>> {
        let actor = ctx.actor()?.clone();
        let Caller::LicenseKey { license_id } = actor.caller else {
            return Err(AppError::Forbidden(
                "licenseStatus is for runtime software: open the socket with a license key",
            )
            .into());
        };
        service::check_fingerprint(fingerprint.as_deref())?;
        let changes = resume::events(&actor, None, None, OnLag::CatchUp, move |event| {
            event.entity_id == license_id
                || event.data.get("licenseId").and_then(|v| v.as_str())
                    == Some(license_id.to_string().as_str())
        })
        .await?;
        Ok(async_stream::stream! {
            let mut changes = std::pin::pin!(changes);
            let mut recheck = tokio::time::interval(STANDING_RECHECK);
            let mut last = None;
            loop {
                let now = actor.renewed();
                let found = match service::standing(&now, license_id, fingerprint.as_deref()).await {
                    Ok(found) => found,
                    Err(err) => {
                        tracing::warn!(error = ?err, "a license's standing could not be read");
                        return;
                    }
                };
                if last != Some(found.code) {
                    last = Some(found.code);
                    yield ValidationResult::from_validation(&now, found);
                }
                tokio::select! {
                    change = changes.next() => if change.is_none() { return },
                    _ = recheck.tick() => {}
                }
            }
        })
    }
}
