//! Reading the credential once, at the edge, for HTTP and WebSocket alike.

use crate::auth::opaque_token::{API, INSTANCE};
use crate::auth::{Actor, Caller, RequestMeta, Role, TokenGrant};
use crate::domain::api_tokens::service as api_tokens;
use crate::domain::instance_tokens::service as tokens;
use crate::domain::licenses::model::LicenseState;
use crate::domain::seats::service as seats;
use crate::domain::validation::service::wrong_key;
use crate::error::AppError;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use entity::{licenses, prelude::Licenses};
use ipnet::IpNet;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::net::{IpAddr, SocketAddr};
use uuid::Uuid;

/// Who a request's credential names, the sign-in session an access token belongs to, and the
/// id whose ending ends the credential (see `Liveness`): the session for an access token, the
/// license for its key (revoked, or its key regenerated), the token itself for an instance
/// token (revoked, or its instance deleted). A socket opened with it closes then.
pub struct Credential {
    pub caller: Caller,
    pub session: Option<Uuid>,
    pub ends_with: Option<Uuid>,
    /// The API token the credential is, limiting its caller to the token's scopes.
    pub token: Option<TokenGrant>,
    /// When an API token stops by itself (an access token's expiry is `credential_expiry`).
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<Caller> for Credential {
    fn from(caller: Caller) -> Self {
        Self {
            caller,
            session: None,
            ends_with: None,
            token: None,
            expires_at: None,
        }
    }
}

/// The caller named by an `Authorization: Bearer` value; none means anonymous.
pub async fn caller_from_authorization(
    app: &AppState,
    meta: &RequestMeta,
    value: Option<&str>,
) -> Result<Credential, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Caller::Anonymous.into());
    };
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(AppError::Unauthenticated(
            "expected `Authorization: Bearer <token>`",
        ))?;
    let token = token.trim();
    // Told apart by prefix, so JWTs never cost a database lookup.
    if API.looks_like(token) {
        let (caller, grant, expires_at) =
            api_tokens::authenticate(app, token, app.clock.now()).await?;
        return Ok(Credential {
            ends_with: Some(grant.id),
            token: Some(grant),
            expires_at,
            ..caller.into()
        });
    }
    if INSTANCE.looks_like(token) {
        let (caller, token_id) = tokens::authenticate(app, token, app.clock.now()).await?;
        return Ok(Credential {
            ends_with: Some(token_id),
            ..caller.into()
        });
    }
    if looks_like_license_key(token) {
        let caller = license_key_caller(app, meta, token).await?;
        let ends_with = match &caller {
            Caller::LicenseKey { license_id } => Some(*license_id),
            _ => None,
        };
        return Ok(Credential {
            ends_with,
            ..caller.into()
        });
    }
    let now = app.clock.now();
    let verified = app.jwt.verify(token, now)?;
    // A valid token of a session that was ended (logged out, its refresh token copied) is not.
    if !app.liveness.holds(&app.db, verified.session, now).await? {
        return Err(AppError::Unauthenticated(
            "this session has ended; sign in again",
        ));
    }
    Ok(Credential {
        caller: verified.caller,
        session: Some(verified.session),
        ends_with: Some(verified.session),
        token: None,
        expires_at: None,
    })
}

/// When the credential in an `Authorization: Bearer` value stops holding, if it expires by
/// itself (an access token does; a license key or an instance token lasts until revoked).
pub fn credential_expiry(app: &AppState, value: Option<&str>) -> Option<DateTime<Utc>> {
    let token = value?.trim().strip_prefix("Bearer ")?.trim();
    Some(app.jwt.verify(token, app.clock.now()).ok()?.expires_at)
}

/// Eight groups of five base32 characters: a license key, which a runtime node may present as
/// its credential. JWTs (dotted) and instance tokens (`inst_`) never match.
fn looks_like_license_key(token: &str) -> bool {
    let groups: Vec<&str> = token.split('-').collect();
    groups.len() == 8
        && groups.iter().all(|g| {
            g.len() == 5
                && g.chars()
                    .all(|c| c.is_ascii_alphabetic() || ('2'..='7').contains(&c))
        })
}

/// A license key opens its own license, unless revoked. Misses count against the client like
/// wrong keys at `validateLicense`, so the header is no side door for guessing.
async fn license_key_caller(
    app: &AppState,
    meta: &RequestMeta,
    key: &str,
) -> Result<Caller, AppError> {
    let found = Licenses::find()
        .filter(licenses::Column::KeyHash.eq(app.license_keys.digest(key)))
        .one(&app.db)
        .await?;
    match found {
        Some(license) if license.state != LicenseState::Revoked.as_str() => {
            Ok(Caller::LicenseKey {
                license_id: license.id,
            })
        }
        Some(_) => Err(AppError::Unauthenticated("this license key is revoked")),
        None => match wrong_key(app, meta.ip.as_deref()).await {
            Some(retry_after) => Err(AppError::RateLimited { retry_after }),
            None => Err(AppError::Unauthenticated("unknown license key")),
        },
    }
}

/// The request's actor: for a team member, with the seats it holds (what it may see follows
/// from them).
pub async fn actor_for(
    app: &AppState,
    credential: Credential,
    meta: RequestMeta,
) -> Result<Actor, AppError> {
    let Credential {
        caller,
        session,
        token,
        ..
    } = credential;
    let seats = match &caller {
        Caller::User {
            id,
            role: Role::Member,
        } => seats::held_by(&app.db, *id).await?,
        _ => Vec::new(),
    };
    let actor = Actor::new(app, caller, meta).holding(seats).through(token);
    Ok(match session {
        Some(session) => actor.in_session(session),
        None => actor,
    })
}

pub async fn caller_from_headers(
    app: &AppState,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<Credential, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError::Unauthenticated("unreadable Authorization header"))
        })
        .transpose()?;
    caller_from_authorization(app, meta, value).await
}

/// Where a request came from. The client is the connecting peer, unless the peer is one of
/// `TRUSTED_PROXIES`: then it is the last address in `X-Forwarded-For` that is not itself a
/// trusted proxy (the entries before it could have been written by anyone).
pub fn request_meta(headers: &HeaderMap, peer: SocketAddr, trusted: &[IpNet]) -> RequestMeta {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.ip();
    if is_trusted(&client) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        if let Some(hop) = forwarded.into_iter().rev().find(|hop| !is_trusted(hop)) {
            client = hop;
        }
    }
    RequestMeta {
        ip: Some(client.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}
