use super::service::{self, ValidatedLicense};
use super::verdict::ValidationCode;
use crate::domain::licenses::model::LicenseState;
use crate::domain::plans::loaders::EntitlementsByPlan;
use crate::domain::plans::schema::Entitlements;
use crate::graphql::context::ContextExt;
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::licenses;
use uuid::Uuid;

/// What a license-key holder may learn about its license.
pub struct LicenseStatus {
    id: Uuid,
    plan_id: Uuid,
    state: String,
    expires_at: Option<DateTime<Utc>>,
}

impl From<ValidatedLicense> for LicenseStatus {
    fn from(l: ValidatedLicense) -> Self {
        Self {
            id: l.id,
            plan_id: l.plan_id,
            state: l.state,
            expires_at: l.expires_at,
        }
    }
}

impl From<licenses::Model> for LicenseStatus {
    fn from(l: licenses::Model) -> Self {
        Self {
            id: l.id,
            plan_id: l.plan_id,
            state: l.state,
            expires_at: l.expires_at.map(|t| t.with_timezone(&Utc)),
        }
    }
}

#[Object]
impl LicenseStatus {
    async fn id(&self) -> Uuid {
        self.id
    }
    async fn state(&self) -> Result<Option<LicenseState>> {
        Ok(Some(LicenseState::from_stored(&self.state)?))
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
    async fn entitlements(&self, ctx: &Context<'_>) -> Result<Option<Entitlements>> {
        let found = ctx
            .loader::<EntitlementsByPlan>()?
            .load_one(self.plan_id)
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
        let found = service::validate_guarded(
            ctx.actor()?,
            &key,
            fingerprint.as_deref(),
            product.as_deref(),
        )
        .await?;
        Ok(ValidationResult {
            valid: found.code == ValidationCode::Valid,
            code: found.code,
            detail: found.code.detail().to_owned(),
            license: found.license.map(LicenseStatus::from),
        })
    }
}
