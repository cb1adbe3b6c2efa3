//! A plan as rows PostgreSQL shapes (`graphql::shaped`): the fields of `PlanObject` read from
//! its row.

use super::model::BillingInterval;
use crate::auth::Audience;
use crate::graphql::shaped::{Column, Kind, Seen, Table, stored_enum};

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
        Column {
            name: "id",
            sql: "{t}.id",
            kind: Kind::Scalar,
        },
        Column {
            name: "code",
            sql: "{t}.code",
            kind: Kind::Scalar,
        },
        Column {
            name: "name",
            sql: "{t}.name",
            kind: Kind::Scalar,
        },
        Column {
            name: "priceMinor",
            sql: "{t}.price_minor",
            kind: Kind::Scalar,
        },
        Column {
            name: "currency",
            sql: "{t}.currency",
            kind: Kind::Scalar,
        },
        Column {
            name: "interval",
            sql: "{t}.billing_interval",
            kind: Kind::Enum(|raw| stored_enum(BillingInterval::from_stored, raw)),
        },
        Column {
            name: "trialDays",
            sql: "{t}.trial_days",
            kind: Kind::Scalar,
        },
        Column {
            name: "active",
            sql: "{t}.active",
            kind: Kind::Scalar,
        },
        Column {
            name: "version",
            sql: "{t}.version",
            kind: Kind::Scalar,
        },
        Column {
            name: "latest",
            sql: "{t}.latest",
            kind: Kind::Scalar,
        },
        Column {
            name: "retiredAt",
            sql: "{t}.retired_at",
            kind: Kind::Time,
        },
    ],
    relations: &[],
};
