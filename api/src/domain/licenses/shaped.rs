//! A license as rows PostgreSQL shapes (`graphql::shaped`): the fields of `LicenseObject` read
//! from its row, and its lists of seats and runtime nodes and its plan.

use super::loaders::LicensesByDeveloper;
use super::model::{LicenseState, LicenseTerm, PaymentState};
use crate::auth::Audience;
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::shaped::RUNTIME_NODE;
use crate::domain::plans::shaped::PLAN;
use crate::domain::seats::loaders::HeldAssignmentsByLicense;
use crate::domain::seats::shaped::ASSIGNMENT;
use crate::graphql::shaped::{Column, Kind, Relation, Rows, Seen, Table, stored_enum, uuid};

/// As `License`'s audience: the license and its developer (the owner it was reached with: a
/// developer's licenses are the rows naming it), who owns what hangs off it.
pub static LICENSE: Table = Table {
    type_name: "License",
    audience: &["id"],
    see: |columns, parent| {
        let (id, developer) = (uuid(columns.first()?)?, parent.owner?);
        Some(Seen {
            by: Audience::License { id, developer },
            owner: Some(developer),
        })
    },
    columns: &[
        Column {
            name: "id",
            sql: "{t}.id",
            kind: Kind::Scalar,
        },
        Column {
            name: "keyPrefix",
            sql: "{t}.key_prefix",
            kind: Kind::Scalar,
        },
        Column {
            name: "product",
            sql: "{t}.product",
            kind: Kind::Scalar,
        },
        Column {
            name: "term",
            sql: "{t}.term",
            kind: Kind::Enum(|raw| stored_enum(LicenseTerm::from_stored, raw)),
        },
        Column {
            name: "state",
            sql: "{t}.state",
            kind: Kind::Enum(|raw| stored_enum(LicenseState::from_stored, raw)),
        },
        Column {
            name: "paymentState",
            sql: "{t}.payment_state",
            kind: Kind::Enum(|raw| stored_enum(PaymentState::from_stored, raw)),
        },
        Column {
            name: "seatsTotal",
            sql: "{t}.seats_total",
            kind: Kind::Scalar,
        },
        Column {
            name: "seatsUsed",
            sql: "{t}.seats_used",
            kind: Kind::Scalar,
        },
        Column {
            name: "startsAt",
            sql: "{t}.starts_at",
            kind: Kind::Time,
        },
        Column {
            name: "expiresAt",
            sql: "{t}.expires_at",
            kind: Kind::Time,
        },
        Column {
            name: "trialEndsAt",
            sql: "{t}.trial_ends_at",
            kind: Kind::Time,
        },
        Column {
            name: "graceEndsAt",
            sql: "{t}.grace_ends_at",
            kind: Kind::Time,
        },
        Column {
            name: "createdAt",
            sql: "{t}.created_at",
            kind: Kind::Time,
        },
        Column {
            name: "updatedAt",
            sql: "{t}.updated_at",
            kind: Kind::Time,
        },
        Column {
            name: "notes",
            sql: "{t}.notes",
            kind: Kind::Scalar,
        },
        Column {
            name: "dba",
            sql: "{t}.dba",
            kind: Kind::Scalar,
        },
        Column {
            name: "zip",
            sql: "{t}.zip",
            kind: Kind::Scalar,
        },
        Column {
            name: "agents",
            sql: "{t}.agents",
            kind: Kind::Scalar,
        },
        Column {
            name: "smsCreditsPurchased",
            sql: "{t}.sms_credits_purchased",
            kind: Kind::Scalar,
        },
        Column {
            name: "smsCreditsSent",
            sql: "{t}.sms_credits_sent",
            kind: Kind::Scalar,
        },
        Column {
            name: "smsCreditsBalance",
            sql: "{t}.sms_credits_purchased - {t}.sms_credits_sent",
            kind: Kind::Scalar,
        },
        Column {
            name: "seatsAvailable",
            sql: "{t}.seats_total - {t}.seats_used",
            kind: Kind::Scalar,
        },
    ],
    relations: &[
        Relation {
            name: "assignments",
            target: &ASSIGNMENT,
            rows: Rows::Many {
                key: "id",
                edge: |cap, columns| HeldAssignmentsByLicense::edge(cap).correlated(columns),
            },
        },
        Relation {
            name: "runtimeNodes",
            target: &RUNTIME_NODE,
            rows: Rows::Many {
                key: "id",
                edge: |cap, columns| ActiveNodesByLicense::edge(cap).correlated(columns),
            },
        },
        Relation {
            name: "plan",
            target: &PLAN,
            rows: Rows::One {
                key: "plan_id",
                table: "plans",
            },
        },
    ],
};

/// A developer's licenses (`User.licenses`).
pub static DEVELOPER_LICENSES: Relation = Relation {
    name: "licenses",
    target: &LICENSE,
    rows: Rows::Many {
        key: "id",
        edge: |cap, columns| LicensesByDeveloper::edge(cap).correlated(columns),
    },
};
