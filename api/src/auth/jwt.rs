//! Access tokens: HS256 pinned, every registered claim required, keys chosen by `kid` so they
//! can rotate (one signing key, several accepted).

use super::{Caller, Role};
use crate::config::AuthConfig;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iss: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    /// The sign-in session the token belongs to; revoking it ends the token at once.
    sid: Uuid,
}

/// What a valid access token says.
pub struct Verified {
    pub caller: Caller,
    pub session: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub struct JwtKeys {
    signing_kid: String,
    signing_key: EncodingKey,
    accepted: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

const REJECTED: AppError = AppError::Unauthenticated("invalid or expired access token");

impl JwtKeys {
    pub fn from_config(config: &AuthConfig) -> Self {
        let current = config.jwt_secret.expose_secret().as_bytes();
        let mut accepted = HashMap::new();
        accepted.insert(config.jwt_key_id.clone(), DecodingKey::from_secret(current));
        for (kid, secret) in &config.jwt_previous_keys {
            accepted
                .entry(kid.clone())
                .or_insert_with(|| DecodingKey::from_secret(secret.expose_secret().as_bytes()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS as u64;
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        Self {
            signing_kid: config.jwt_key_id.clone(),
            signing_key: EncodingKey::from_secret(current),
            accepted,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: Duration::seconds(config.jwt_ttl_seconds),
        }
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        session: Uuid,
        now: DateTime<Utc>,
    ) -> AppResult<IssuedToken> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            sid: session,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(AppError::internal)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Checks a bearer token: its signature and claims (whether its session still holds is the
    /// caller's to ask). Every failure looks the same to the client.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<Verified> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| REJECTED)?;
        // An unknown kid is refused here, before any signature work or I/O.
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.accepted.get(kid))
            .ok_or(REJECTED)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|_| REJECTED)?;
        let claims = data.claims;
        if claims.iat > now.timestamp() + LEEWAY_SECONDS {
            return Err(REJECTED);
        }
        let id = Uuid::parse_str(&claims.sub).map_err(|_| REJECTED)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(REJECTED)?;
        let caller = Caller::User {
            id,
            role: claims.role,
        };
        Ok(Verified {
            caller,
            session: claims.sid,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use data_encoding::BASE64URL_NOPAD as b64;

    fn keys() -> JwtKeys {
        let config = Config::from_lookup(|_| None).expect("defaults");
        JwtKeys::from_config(&config.auth)
    }

    #[test]
    fn signs_and_verifies_with_the_compiled_crypto_backend() {
        let keys = keys();
        let id = Uuid::new_v4();
        let now = Utc::now();
        let session = Uuid::new_v4();
        let issued = keys.issue(id, Role::Developer, session, now).expect("sign");
        let verified = keys.verify(&issued.token, now).expect("verify");
        assert_eq!(
            verified.caller,
            Caller::User {
                id,
                role: Role::Developer
            }
        );
        assert_eq!(verified.session, session);
        assert_eq!(
            verified.expires_at.timestamp(),
            issued.expires_at.timestamp()
        );
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let keys = keys();
        let header = b64.encode(r#"{"alg":"none","typ":"JWT","kid":"primary"}"#.as_bytes());
        let now = Utc::now().timestamp();
        let body = b64.encode(format!(
            r#"{{"sub":"{}","role":"admin","iss":"licensing-gateway","aud":"licensing-api","exp":{},"nbf":{},"iat":{}}}"#,
            Uuid::new_v4(),
            now + 600,
            now,
            now
        )
        .as_bytes());
        let token = format!("{header}.{body}.");
        assert!(keys.verify(&token, Utc::now()).is_err());
    }

    #[test]
    fn tokens_from_the_future_are_refused() {
        let keys = keys();
        let later = Utc::now() + Duration::hours(1);
        let issued = keys
            .issue(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), later)
            .expect("sign");
        assert!(keys.verify(&issued.token, Utc::now()).is_err());
    }
}
