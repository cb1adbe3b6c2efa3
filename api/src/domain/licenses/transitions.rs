//! The license state machine, written once as data. Every pair not listed is refused with
//! INVALID_TRANSITION naming both states. Revoked is terminal.

use super::model::LicenseState::{self, *};
use crate::error::AppResult;
use crate::vocabulary::{Transitions, check_move};

/// (from, the states it may move to).
const ALLOWED: &Transitions<LicenseState> = &[
    (
        Trialing,
        &[
            Active, Grace, PastDue, Expired, Cancelled, Revoked, Suspended,
        ],
    ),
    (
        Active,
        &[Grace, PastDue, Expired, Cancelled, Revoked, Suspended],
    ),
    (
        Grace,
        &[Active, PastDue, Expired, Cancelled, Revoked, Suspended],
    ),
    (
        PastDue,
        &[Active, Grace, Expired, Cancelled, Revoked, Suspended],
    ),
    (Expired, &[Active, Cancelled, Revoked]),
    (Cancelled, &[Active, Revoked]),
    (Suspended, &[Active, Expired, Cancelled, Revoked]),
    (Revoked, &[]),
];

pub fn check(from: LicenseState, to: LicenseState) -> AppResult<()> {
    check_move(ALLOWED, from, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    /// The whole table, pair by pair: a change to the machine must change this expectation.
    #[test]
    fn every_pair_is_either_allowed_or_refused_naming_both_states() {
        let expected_allowed: &[(&str, &str)] = &[
            ("trialing", "active"),
            ("trialing", "grace"),
            ("trialing", "past_due"),
            ("trialing", "expired"),
            ("trialing", "cancelled"),
            ("trialing", "revoked"),
            ("trialing", "suspended"),
            ("active", "grace"),
            ("active", "past_due"),
            ("active", "expired"),
            ("active", "cancelled"),
            ("active", "revoked"),
            ("active", "suspended"),
            ("grace", "active"),
            ("grace", "past_due"),
            ("grace", "expired"),
            ("grace", "cancelled"),
            ("grace", "revoked"),
            ("grace", "suspended"),
            ("past_due", "active"),
            ("past_due", "grace"),
            ("past_due", "expired"),
            ("past_due", "cancelled"),
            ("past_due", "revoked"),
            ("past_due", "suspended"),
            ("expired", "active"),
            ("expired", "cancelled"),
            ("expired", "revoked"),
            ("cancelled", "active"),
            ("cancelled", "revoked"),
            ("suspended", "active"),
            ("suspended", "expired"),
            ("suspended", "cancelled"),
            ("suspended", "revoked"),
        ];
        let mut checked = 0;
        for from in LicenseState::ALL {
            for to in LicenseState::ALL {
                let pair = (from.as_str(), to.as_str());
                match check(*from, *to) {
                    Ok(()) => assert!(
                        expected_allowed.contains(&pair),
                        "{pair:?} should be refused"
                    ),
                    Err(AppError::InvalidTransition { from: f, to: t }) => {
                        assert!(
                            !expected_allowed.contains(&pair),
                            "{pair:?} should be allowed"
                        );
                        assert_eq!((f.as_str(), t.as_str()), pair);
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 64);
    }

    #[test]
    fn revoked_is_terminal() {
        assert!(
            LicenseState::ALL
                .iter()
                .all(|to| check(Revoked, *to).is_err())
        );
    }
}
