//! The license state machine, written once as data. Every pair not listed is refused with
//! INVALID_TRANSITION naming both states. Revoked is terminal.

use super::model::LicenseState::{self, *};
use crate::error::{AppError, AppResult};

/// (from, the states it may move to).
const ALLOWED: &[(LicenseState, &[LicenseState])] = &[
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

pub fn can_move(from: LicenseState, to: LicenseState) -> bool {
    ALLOWED
        .iter()
        .find(|(state, _)| *state == from)
        .is_some_and(|(_, targets)| targets.contains(&to))
}

pub fn check(from: LicenseState, to: LicenseState) -> AppResult<()> {
    if can_move(from, to) {
        Ok(())
    } else {
        Err(AppError::InvalidTransition {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(LicenseState::ALL.iter().all(|to| !can_move(Revoked, *to)));
    }
}
