//! Validating a license key: the license's standing, and with a fingerprint that node's, and
//! with a product that the license covers it. The row comes from one statement (`lookup.rs`).

use super::verdict::{NodeFacts, ValidationCode, license_code, node_code};
use crate::auth::Actor;
use crate::domain::licenses::model::LicenseState;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use entity::{licenses, prelude::Licenses};
use sea_orm::{EntityTrait, QuerySelect};

/// Longest fingerprint a node may present (the column's own bound).
pub const MAX_FINGERPRINT_CHARS: usize = 255;
use chrono::{DateTime, FixedOffset, Utc};
use uuid::Uuid;

/// What a validation found out about the license, for the answer.
pub struct ValidatedLicense {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub developer_id: Uuid,
    pub state: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<licenses::Model> for ValidatedLicense {
    fn from(l: licenses::Model) -> Self {
        Self {
            id: l.id,
            plan_id: l.plan_id,
            developer_id: l.developer_id,
            state: l.state,
            expires_at: l.expires_at.map(|t| t.with_timezone(&Utc)),
        }
    }
}

pub struct Validation {
    pub code: ValidationCode,
    /// None when the key matched nothing: an unknown and a wrong key answer alike.
    pub license: Option<ValidatedLicense>,
}

/// `validate`, refusing (RATE_LIMITED, before any lookup) sources that have failed too often,
/// and counting this attempt if it fails.
pub async fn validate_guarded(
    actor: &Actor,
    key: &str,
    fingerprint: Option<&str>,
    product: Option<&str>,
) -> AppResult<Validation> {
    let found = validate(actor, key, fingerprint, product).await?;
    let ip = actor.meta.ip.as_deref();
    if found.code == ValidationCode::NotFound && wrong_key(&actor.app, ip).await.is_some() {
        return Ok(Validation {
            code: ValidationCode::RateLimited,
            license: None,
        });
    }
    Ok(found)
}

/// Counts a key that opened nothing against the client's IP, and answers how long that client
/// is refused, if it now is. Only wrong keys are ever refused: a right key is answered whoever
/// presents it, so a stranger who knows a license's prefix cannot lock it out, and a guesser
/// past its rate learns nothing (a key has 200 random bits).
pub async fn wrong_key(app: &AppState, ip: Option<&str>) -> Option<u64> {
    let sources: Vec<String> = ip.iter().map(|ip| format!("ip:{ip}")).collect();
    app.guesses.count(sources.clone()).await;
    app.guesses.refused(&sources)
}

/// A fingerprint is stored and sent to the database as text: bounded, and never a NUL (which
/// PostgreSQL refuses, failing every validation that shares the statement).
pub fn check_fingerprint(fingerprint: Option<&str>) -> AppResult<()> {
    match fingerprint {
        Some(f) if f.chars().count() > MAX_FINGERPRINT_CHARS || f.contains('\0') => Err(
            AppError::validation("fingerprint", "1 to 255 characters, no NUL"),
        ),
        _ => Ok(()),
    }
}

pub async fn validate(
    actor: &Actor,
    key: &str,
    fingerprint: Option<&str>,
    product: Option<&str>,
) -> AppResult<Validation> {
    check_fingerprint(fingerprint)?;
    let digest = actor.app.license_keys.digest(key);
    by_digest(actor, digest, fingerprint, product).await
}

/// The standing of the license whose key opened this caller's socket: what `validateLicense`
/// would answer its key now.
pub async fn standing(
    actor: &Actor,
    license_id: Uuid,
    fingerprint: Option<&str>,
) -> AppResult<Validation> {
    check_fingerprint(fingerprint)?;
    let digest: Option<String> = Licenses::find_by_id(license_id)
        .select_only()
        .column(licenses::Column::KeyHash)
        .into_tuple()
        .one(&actor.app.db)
        .await?;
    match digest {
        Some(digest) => by_digest(actor, digest, fingerprint, None).await,
        None => Ok(Validation {
            code: ValidationCode::NotFound,
            license: None,
        }),
    }
}

async fn by_digest(
    actor: &Actor,
    digest: String,
    fingerprint: Option<&str>,
    product: Option<&str>,
) -> AppResult<Validation> {
    let (app, now) = (&actor.app, actor.now);
    let fingerprint_value = fingerprint.unwrap_or_default().to_owned();
    let Some(row) = app
        .license_lookup
        .row(digest, fingerprint_value, now)
        .await?
    else {
        return Ok(Validation {
            code: ValidationCode::NotFound,
            license: None,
        });
    };
    let utc = |t: Option<DateTime<FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
    let state = LicenseState::from_stored(&row.state)?;
    let mut code = license_code(state, utc(row.expires_at), utc(row.grace_ends_at), now);
    if code == ValidationCode::Valid && product.is_some_and(|p| p != row.product) {
        code = ValidationCode::ProductScopeMismatch;
    }
    if code == ValidationCode::Valid && fingerprint.is_some() {
        code = node_code(
            &NodeFacts {
                heartbeat_deadline: utc(row.node_deadline),
                nodes_total: row.nodes_total,
                nodes_alive: row.nodes_alive,
                max_nodes: row.max_runtime_nodes,
            },
            now,
        );
    }
    Ok(Validation {
        code,
        license: Some(ValidatedLicense {
            id: row.id,
            plan_id: row.plan_id,
            developer_id: row.developer_id,
            state: row.state,
            expires_at: utc(row.expires_at),
        }),
    })
}
