//! Whether a license (and a node on it) may be used right now: pure functions over stored
//! facts, shared by validation, activation and heartbeats so they can never disagree.

use super::model::LicenseState;
use async_graphql::Enum;
use chrono::{DateTime, Utc};

/// The answer codes of `validateLicense` and `checkIn`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValidationCode {
    Valid,
    NotFound,
    Expired,
    Cancelled,
    Suspended,
    Revoked,
    /// Payment is past due beyond the grace period.
    Overdue,
    /// The license has nodes, but not this fingerprint.
    FingerprintScopeMismatch,
    /// The license has no node at all.
    NoMachine,
    TooManyMachines,
    /// The node missed its heartbeat deadline.
    HeartbeatDead,
    ProductScopeMismatch,
    RateLimited,
}

impl ValidationCode {
    /// The code as clients see it, also used as a CONFLICT `reason`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::NotFound => "NOT_FOUND",
            Self::Expired => "EXPIRED",
            Self::Cancelled => "CANCELLED",
            Self::Suspended => "SUSPENDED",
            Self::Revoked => "REVOKED",
            Self::Overdue => "OVERDUE",
            Self::FingerprintScopeMismatch => "FINGERPRINT_SCOPE_MISMATCH",
            Self::NoMachine => "NO_MACHINE",
            Self::TooManyMachines => "TOO_MANY_MACHINES",
            Self::HeartbeatDead => "HEARTBEAT_DEAD",
            Self::ProductScopeMismatch => "PRODUCT_SCOPE_MISMATCH",
            Self::RateLimited => "RATE_LIMITED",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Self::Valid => "the license is valid",
            Self::NotFound => "no license has this key",
            Self::Expired => "the license has expired",
            Self::Cancelled => "the license was cancelled",
            Self::Suspended => "the license is suspended",
            Self::Revoked => "the license was revoked",
            Self::Overdue => "payment is overdue beyond the grace period",
            Self::FingerprintScopeMismatch => "this fingerprint is not activated on the license",
            Self::NoMachine => "the license has no activated runtime node",
            Self::TooManyMachines => "more runtime nodes are alive than the plan allows",
            Self::HeartbeatDead => "the runtime node missed its heartbeat deadline",
            Self::ProductScopeMismatch => "the license does not cover this product",
            Self::RateLimited => "too many failed validations; try again later",
        }
    }
}

/// The license's own standing, before any node is considered.
pub fn license_code(
    state: &str,
    expires_at: Option<DateTime<Utc>>,
    grace_ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ValidationCode {
    match LicenseState::parse(state) {
        Some(LicenseState::Revoked) => ValidationCode::Revoked,
        Some(LicenseState::Suspended) => ValidationCode::Suspended,
        Some(LicenseState::Cancelled) => ValidationCode::Cancelled,
        Some(LicenseState::Expired) | None => ValidationCode::Expired,
        _ if expires_at.is_some_and(|t| t < now) => ValidationCode::Expired,
        Some(LicenseState::PastDue) => ValidationCode::Overdue,
        Some(LicenseState::Grace) if grace_ends_at.is_some_and(|t| t < now) => {
            ValidationCode::Overdue
        }
        _ => ValidationCode::Valid,
    }
}

/// What is known about one fingerprint's node on a license.
pub struct NodeFacts {
    pub heartbeat_deadline: Option<DateTime<Utc>>,
    pub nodes_total: i64,
    pub nodes_alive: i64,
    pub max_nodes: Option<i32>,
}

pub fn node_code(facts: &NodeFacts, now: DateTime<Utc>) -> ValidationCode {
    match facts.heartbeat_deadline {
        None if facts.nodes_total == 0 => ValidationCode::NoMachine,
        None => ValidationCode::FingerprintScopeMismatch,
        Some(deadline) if deadline < now => ValidationCode::HeartbeatDead,
        Some(_)
            if facts
                .max_nodes
                .is_some_and(|max| facts.nodes_alive > i64::from(max)) =>
        {
            ValidationCode::TooManyMachines
        }
        Some(_) => ValidationCode::Valid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn license_codes_follow_state_then_dates() {
        let now = Utc::now();
        let past = Some(now - Duration::days(1));
        let future = Some(now + Duration::days(1));
        assert_eq!(
            license_code("active", future, None, now),
            ValidationCode::Valid
        );
        assert_eq!(
            license_code("trialing", past, None, now),
            ValidationCode::Expired
        );
        assert_eq!(
            license_code("revoked", future, None, now),
            ValidationCode::Revoked
        );
        assert_eq!(
            license_code("suspended", future, None, now),
            ValidationCode::Suspended
        );
        assert_eq!(
            license_code("past_due", future, None, now),
            ValidationCode::Overdue
        );
        assert_eq!(
            license_code("grace", future, future, now),
            ValidationCode::Valid
        );
        assert_eq!(
            license_code("grace", future, past, now),
            ValidationCode::Overdue
        );
    }

    #[test]
    fn node_codes_cover_missing_dead_and_crowded_nodes() {
        let now = Utc::now();
        let facts = |deadline, total, alive, max| NodeFacts {
            heartbeat_deadline: deadline,
            nodes_total: total,
            nodes_alive: alive,
            max_nodes: max,
        };
        let later = Some(now + Duration::minutes(5));
        assert_eq!(
            node_code(&facts(None, 0, 0, Some(1)), now),
            ValidationCode::NoMachine
        );
        assert_eq!(
            node_code(&facts(None, 1, 1, Some(1)), now),
            ValidationCode::FingerprintScopeMismatch
        );
        assert_eq!(
            node_code(&facts(Some(now - Duration::minutes(1)), 1, 0, Some(1)), now),
            ValidationCode::HeartbeatDead
        );
        assert_eq!(
            node_code(&facts(later, 3, 3, Some(2)), now),
            ValidationCode::TooManyMachines
        );
        assert_eq!(
            node_code(&facts(later, 2, 2, Some(2)), now),
            ValidationCode::Valid
        );
    }
}
