//! What clients send to find developers.

use chrono::{DateTime, Utc};

// Which developers `developers` lists.
#[derive(async_graphql::InputObject, Default)]
#[graphql(name = "DeveloperFilterInput")]
pub struct DeveloperFilter {
    /// Part of the email address, case-insensitive.
    pub email_contains: Option<String>,
    /// Developers holding a license on this plan.
    pub plan_code: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}
