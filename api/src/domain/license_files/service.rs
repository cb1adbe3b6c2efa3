//! Checking out a license file: the license's standing, its plan's entitlements and one runtime
//! node's fingerprint, signed for offline use until the file expires.
//!
//! A file is handed out only when `validateLicense` with the same key and fingerprint would
//! answer VALID: the license is usable and the fingerprint is an active, live runtime node of
//! it (activate it first with `activateRuntimeNode`, as any node does). Anything else is
//! refused with CONFLICT, its reason the validation code that would have been answered, so a
//! client handles both alike. The file never outlives the license: it expires at the end of the
//! requested time, the license's term or its grace period, whichever comes first.

use super::answers::rfc3339;
use super::file::{FILE_TYPE, FILE_VERSION, LicenseFilePayload, certificate};
use super::signing::{ALGORITHM, PublishedKey};
use crate::auth::{Actor, Caller};
use crate::domain::entitlements::catalogue;
use crate::domain::licenses::model::LicenseState;
use crate::domain::nodes::model::NodeStatus;
use crate::domain::nodes::service::license_by_key;
use crate::domain::validation::service::check_fingerprint;
use crate::domain::validation::verdict::{NodeFacts, ValidationCode, license_code, node_code};
use crate::error::{AppError, AppResult};
use crate::events::{Change, UnitOfWork};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::{licenses, plan_entitlements, plans, prelude::*, runtime_nodes};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// Shortest file: an hour, so a client cannot make the gateway sign on every start-up.
pub const MIN_TTL_SECONDS: i64 = 3_600;
/// Longest file: 30 days offline before the node must be back online.
pub const MAX_TTL_SECONDS: i64 = 2_592_000;
/// Without `ttlSeconds`: 14 days.
pub const DEFAULT_TTL_SECONDS: i64 = 1_209_600;

/// A signed file, with whose license it is (who may see it follows from that).
pub struct CheckedOutFile {
    pub license_id: Uuid,
    pub developer_id: Uuid,
    pub certificate: String,
    /// The exact JSON signed.
    pub payload: String,
    /// Base64 of the 64 signature bytes.
    pub signature: String,
    pub key_id: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn utc(t: &sea_orm::prelude::DateTimeWithTimeZone) -> DateTime<Utc> {
    t.with_timezone(&Utc)
}

fn checked_ttl(ttl_seconds: Option<i64>) -> AppResult<Duration> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(AppError::validation(
            "ttlSeconds",
            format!("{MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds"),
        ));
    }
    Ok(Duration::seconds(ttl))
}

fn checked_fingerprint(fingerprint: &str) -> AppResult<&str> {
    let fingerprint = fingerprint.trim();
    check_fingerprint(Some(fingerprint))?;
    if fingerprint.is_empty() {
        return Err(AppError::validation(
            "fingerprint",
            "1 to 255 characters, no NUL",
        ));
    }
    Ok(fingerprint)
}

/// CONFLICT naming the validation code, unless it is VALID.
fn valid_or_conflict(code: ValidationCode) -> AppResult<()> {
    match code {
        ValidationCode::Valid => Ok(()),
        other => Err(AppError::conflict(other.conflict_reason(), other.detail())),
    }
}

/// The license's own standing, as validation judges it.
fn license_standing(license: &licenses::Model, now: DateTime<Utc>) -> AppResult<ValidationCode> {
    Ok(license_code(
        LicenseState::from_stored(&license.state)?,
        license.expires_at.as_ref().map(utc),
        license.grace_ends_at.as_ref().map(utc),
        now,
    ))
}

/// The standing of the node with this fingerprint, as validation judges it.
async fn node_standing(
    conn: &impl ConnectionTrait,
    license_id: Uuid,
    fingerprint: &str,
    max_nodes: Option<i32>,
    now: DateTime<Utc>,
) -> AppResult<ValidationCode> {
    let active = RuntimeNodes::find()
        .filter(runtime_nodes::Column::LicenseId.eq(license_id))
        .filter(runtime_nodes::Column::Status.eq(NodeStatus::Active.as_str()))
        .all(conn)
        .await?;
    let alive = |n: &runtime_nodes::Model| utc(&n.heartbeat_deadline_at) >= now;
    let facts = NodeFacts {
        heartbeat_deadline: active
            .iter()
            .find(|n| n.fingerprint == fingerprint)
            .map(|n| utc(&n.heartbeat_deadline_at)),
        nodes_total: active.len() as i64,
        nodes_alive: active.iter().filter(|n| alive(n)).count() as i64,
        max_nodes,
    };
    Ok(node_code(&facts, now))
}

/// When a file checked out now must expire: after `ttl`, and never after the license's term or
/// (in grace) its grace period, since the license stops being valid then. Whole seconds,
/// rounded down, as the payload writes them.
fn file_expiry(
    license: &licenses::Model,
    issued_at: DateTime<Utc>,
    ttl: Duration,
) -> DateTime<Utc> {
    let grace_end = (license.state == LicenseState::Grace.as_str())
        .then(|| license.grace_ends_at.as_ref().map(utc))
        .flatten();
    [
        issued_at.checked_add_signed(ttl),
        license.expires_at.as_ref().map(utc),
        grace_end,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(issued_at)
    .trunc_subsecs(0)
}

async fn plan_and_entitlements(
    conn: &impl ConnectionTrait,
    plan_id: Uuid,
) -> AppResult<(plans::Model, plan_entitlements::Model)> {
    let missing = || {
        AppError::internal(anyhow::anyhow!(
            "a license's plan or entitlements are missing"
        ))
    };
    let plan = Plans::find_by_id(plan_id)
        .one(conn)
        .await?
        .ok_or_else(missing)?;
    let limits = PlanEntitlements::find_by_id(plan_id)
        .one(conn)
        .await?
        .ok_or_else(missing)?;
    Ok((plan, limits))
}

/// `checkoutLicenseFile`: the key is the credential, as for `validateLicense`. An unknown key is
/// NOT_FOUND (and counts against the client as a wrong key); a license or node that would not
/// validate is CONFLICT; the checkout is audited on the license (`license.checked_out`).
#[tracing::instrument(skip_all)]
pub async fn checkout(
    actor: &Actor,
    key: &str,
    fingerprint: &str,
    ttl_seconds: Option<i64>,
) -> AppResult<CheckedOutFile> {
    let ttl = checked_ttl(ttl_seconds)?;
    let fingerprint = checked_fingerprint(fingerprint)?;
    let license = license_by_key(actor, key)
        .await?
        .ok_or(AppError::NotFound("license"))?;
    let issued_at = actor.now.trunc_subsecs(0);
    valid_or_conflict(license_standing(&license, actor.now)?)?;
    let key_holder = actor.acting_as(Caller::LicenseKey {
        license_id: license.id,
    });
    // One transaction reads what the file states and records the checkout with it.
    let mut uow = UnitOfWork::begin(&key_holder).await?;
    let (plan, limits) = plan_and_entitlements(&*uow, license.plan_id).await?;
    let node = node_standing(
        &*uow,
        license.id,
        fingerprint,
        limits.max_runtime_nodes,
        actor.now,
    )
    .await?;
    valid_or_conflict(node)?;
    let expires_at = file_expiry(&license, issued_at, ttl);
    let signer = &actor.app.license_signer;
    let key_id = signer.current().key_id.clone();
    let payload = LicenseFilePayload {
        kind: FILE_TYPE,
        version: FILE_VERSION,
        license_id: license.id,
        key_prefix: license.key_prefix.clone(),
        product: license.product.clone(),
        plan_code: plan.code,
        status: license.state.clone(),
        payment_state: license.payment_state.clone(),
        entitlements: catalogue::from_plan(&limits),
        fingerprint: fingerprint.to_owned(),
        issued_at: rfc3339(issued_at),
        expires_at: rfc3339(expires_at),
        license_expires_at: license.expires_at.as_ref().map(utc).map(rfc3339),
        kid: key_id.clone(),
    };
    let payload = serde_json::to_string(&payload).map_err(AppError::internal)?;
    let signed = signer.sign(payload.as_bytes());
    uow.record(
        Change::new("license.checked_out", "license", license.id)
            .owner(license.developer_id)
            .metadata(json!({
                "keyPrefix": license.key_prefix,
                "fingerprint": fingerprint,
                "keyId": key_id,
                "issuedAt": issued_at,
                "expiresAt": expires_at,
            })),
    )
    .await?;
    uow.commit().await?;
    Ok(CheckedOutFile {
        license_id: license.id,
        developer_id: license.developer_id,
        certificate: certificate(&payload, &signed.signature, &signed.key_id, ALGORITHM),
        payload,
        signature: signed.signature,
        key_id: signed.key_id,
        issued_at,
        expires_at,
    })
}

/// `licenseSigningKey`: the current key, or with an id, that key if it is still published
/// (current or retired); NOT_FOUND otherwise. Public data: anyone may ask.
pub fn published_key(actor: &Actor, key_id: Option<&str>) -> AppResult<PublishedKey> {
    let signer = &actor.app.license_signer;
    match key_id {
        None => Ok(signer.current().clone()),
        Some(id) => signer
            .published(id)
            .cloned()
            .ok_or(AppError::NotFound("license signing key")),
    }
}
