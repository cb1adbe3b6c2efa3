use super::service::{self, ValidatedLicense};
use super::verdict::ValidationCode;
use crate::auth::{Actor, Audience, Caller};
use crate::domain::licenses::model::LicenseState;
use crate::domain::plans::loaders::EntitlementsByPlan;
use crate::domain::plans::schema::Entitlements;
use crate::graphql::context::ContextExt;
use crate::graphql::guard::{Guarded, Seen, shown};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
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
}

#[derive(Default)]
pub struct ValidationQuery;

#[Object]
impl ValidationQuery {
    /// Checks a license key (the key is the credential; no sign-in). With a fingerprint it also
    /// checks that node; with a product, that the license covers it. An unknown key and a
    /// wrong key answer alike: NOT_FOUND.
    async fn validate_license(
        &self,
        ctx: &Context<'_>,
        key: String,
        fingerprint: Option<String>,
        product: Option<String>,
    ) -> Result<ValidationResult> {
        let actor = ctx.actor()?;
        let found =
            service::validate_guarded(actor, &key, fingerprint.as_deref(), product.as_deref())
                .await?;
        Ok(ValidationResult {
            valid: found.code == ValidationCode::Valid,
            code: found.code,
            detail: found.code.detail().to_owned(),
            license: found
                .license
                .and_then(|l| shown(&key_bearer(actor, l.id), l)),
        })
    }
}
