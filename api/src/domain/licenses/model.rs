//! The license vocabulary, stored as lower-case text and checked by the database.

use async_graphql::Enum;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

text_enum!(
    /// Where a license stands in its life.
    LicenseState {
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
    PaymentState {
        NotRequiredForTrial => "not_required_for_trial",
        Active => "active",
        PastDue => "past_due",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// How long one paid period of the license lasts.
    LicenseTerm {
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
