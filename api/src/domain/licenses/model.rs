//! The license vocabulary, stored as lower-case text and checked by the database.

use crate::vocabulary::text_enum;

text_enum!(
    /// Where a license stands in its life.
    pub enum LicenseState {
        Trialing => "trialing",
        Active => "active",
        Grace => "grace",
        PastDue => "past_due",
        Expired => "expired",
        Cancelled => "cancelled",
        Revoked => "revoked",
        Suspended => "suspended",
    }
);

text_enum!(
    /// Whether the license is paid for.
    pub enum PaymentState {
        NotRequiredForTrial => "not_required_for_trial",
        Active => "active",
        PastDue => "past_due",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// How long one paid period of the license lasts.
    pub enum LicenseTerm {
        Monthly => "monthly",
        Yearly => "yearly",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_text() {
        for s in LicenseState::ALL {
            assert_eq!(LicenseState::parse(s.as_str()), Some(*s));
        }
        for s in PaymentState::ALL {
            assert_eq!(PaymentState::parse(s.as_str()), Some(*s));
        }
        for s in LicenseTerm::ALL {
            assert_eq!(LicenseTerm::parse(s.as_str()), Some(*s));
        }
        assert_eq!(LicenseState::parse("bogus"), None);
    }
}
