//! Whether a license (and a node on it) may be used right now: pure functions over stored
//! facts, shared by validation, activation and heartbeats so they can never disagree.

use crate::domain::licenses::model::LicenseState;
use crate::error::ConflictReason;
use crate::vocabulary::text_enum;
use chrono::{DateTime, Utc};

text_enum!(
    /// The answer codes of `validateLicense` and `checkIn`.
    pub enum ValidationCode {
        Valid => "VALID",
        NotFound => "NOT_FOUND",
        Expired => "EXPIRED",
        Cancelled => "CANCELLED",
        Suspended => "SUSPENDED",
        Revoked => "REVOKED",
        /// Payment is past due beyond the grace period.
        Overdue => "OVERDUE",
        /// The license has nodes, but not this fingerprint.
        FingerprintScopeMismatch => "FINGERPRINT_SCOPE_MISMATCH",
        /// The license has no node at all.
        NoMachine => "NO_MACHINE",
        TooManyMachines => "TOO_MANY_MACHINES",
        /// The node missed its heartbeat deadline.
        HeartbeatDead => "HEARTBEAT_DEAD",
        ProductScopeMismatch => "PRODUCT_SCOPE_MISMATCH",
        RateLimited => "RATE_LIMITED",
    }
);

impl ValidationCode {
    /// Why a license (or a node on it) that is not usable refuses a change: activating a node
    /// on it, checking out a license file for a node.
    pub fn conflict_reason(self) -> ConflictReason {
        match self {
            Self::Expired => ConflictReason::Expired,
            Self::Cancelled => ConflictReason::Cancelled,
            Self::Suspended => ConflictReason::Suspended,
            Self::Revoked => ConflictReason::Revoked,
            Self::Overdue => ConflictReason::Overdue,
            Self::NoMachine => ConflictReason::NoMachine,
            Self::FingerprintScopeMismatch => ConflictReason::FingerprintScopeMismatch,
            Self::HeartbeatDead => ConflictReason::HeartbeatDead,
            Self::TooManyMachines => ConflictReason::TooManyMachines,
            _ => ConflictReason::LicenseNotUsable,
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
    state: LicenseState,
    expires_at: Option<DateTime<Utc>>,
    grace_ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ValidationCode {
    match state {
        LicenseState::Revoked => ValidationCode::Revoked,
        LicenseState::Suspended => ValidationCode::Suspended,
        LicenseState::Cancelled => ValidationCode::Cancelled,
        LicenseState::Expired => ValidationCode::Expired,
        _ if expires_at.is_some_and(|t| t < now) => ValidationCode::Expired,
        LicenseState::PastDue => ValidationCode::Overdue,
        LicenseState::Grace if grace_ends_at.is_some_and(|t| t < now) => ValidationCode::Overdue,
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
        let now = crate::clock::Clock::default().now();
        let past = Some(now - Duration::days(1));
        let future = Some(now + Duration::days(1));
        let cases = [
            (LicenseState::Active, future, None, ValidationCode::Valid),
            (LicenseState::Trialing, past, None, ValidationCode::Expired),
            (LicenseState::Revoked, future, None, ValidationCode::Revoked),
            (
                LicenseState::Suspended,
                future,
                None,
                ValidationCode::Suspended,
            ),
            (LicenseState::PastDue, future, None, ValidationCode::Overdue),
            (LicenseState::Grace, future, future, ValidationCode::Valid),
            (LicenseState::Grace, future, past, ValidationCode::Overdue),
        ];
        for (state, expires, grace_ends, code) in cases {
            assert_eq!(
                license_code(state, expires, grace_ends, now),
                code,
                "{state:?}"
            );
        }
    }

    #[test]
    fn node_codes_cover_missing_dead_and_crowded_nodes() {
        let now = crate::clock::Clock::default().now();
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
