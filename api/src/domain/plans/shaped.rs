//! A plan as rows PostgreSQL shapes (`graphql::shaped`): the fields of `PlanObject` read from
//! its row.

use super::model::BillingInterval;
use crate::auth::Audience;
use crate::graphql::shaped::{Seen, Table, scalar, stored, stored_enum, time};

/// As `Plan`'s audience: the catalogue is everyone's.
pub static PLAN: Table = Table {
    type_name: "Plan",
    audience: &[],
    see: |_, _| {
        Some(Seen {
            by: Audience::Everyone,
            owner: None,
        })
    },
    columns: &[
        scalar("id", "{t}.id"),
        scalar("code", "{t}.code"),
        scalar("name", "{t}.name"),
        scalar("priceMinor", "{t}.price_minor"),
        scalar("currency", "{t}.currency"),
        stored(
            "interval",
            "{t}.billing_interval",
            stored_enum::<BillingInterval>,
        ),
        scalar("trialDays", "{t}.trial_days"),
        scalar("active", "{t}.active"),
        scalar("version", "{t}.version"),
        scalar("latest", "{t}.latest"),
        time("retiredAt", "{t}.retired_at"),
    ],
    relations: &[],
};
