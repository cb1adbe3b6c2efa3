//! The license vocabulary, stored as lower-case text and checked by the database, and what
//! clients filter and sort licenses by.

use crate::vocabulary::text_enum;
use chrono::{DateTime, Utc};
use uuid::Uuid;

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

// What clients filter and sort `licenses` by (GraphQL inputs, so no doc comment here: it
// would become the type's description).
#[derive(async_graphql::InputObject, Default)]
#[graphql(name = "LicenseFilterInput")]
pub struct LicenseFilter {
    pub state: Option<LicenseState>,
    pub payment_state: Option<PaymentState>,
    pub plan_code: Option<String>,
    pub product: Option<String>,
    pub developer_id: Option<Uuid>,
    pub term: Option<LicenseTerm>,
    /// Licenses whose expiry is before this time.
    pub expiring_before: Option<DateTime<Utc>>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Licenses with every word searched among their words (DBA name, product, key prefix;
    /// full-text on PostgreSQL), or, for a search written as keys are (capitals and digits),
    /// whose key starts with it, or on a plan whose code or name holds the text.
    pub search: Option<String>,
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum LicenseOrderField {
    #[default]
    CreatedAt,
    ExpiresAt,
    Utilization,
    /// How well a license matches the filter's `search` (full-text rank on PostgreSQL, most
    /// relevant first when descending; SQLite does not rank, so it keeps creation order).
    /// Only with a search, and one matching at most `GRAPHQL_EXACT_COUNT_LIMIT` licenses.
    Relevance,
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

#[derive(async_graphql::InputObject, Default)]
pub struct LicenseOrder {
    #[graphql(default)]
    pub field: LicenseOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

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
