//! A license as rows PostgreSQL shapes (`graphql::shaped`): the fields of `LicenseObject` read
//! from its row, and its lists of seats and runtime nodes and its plan.

use super::model::{LicenseState, LicenseTerm, PaymentState};
use crate::auth::Audience;
use crate::domain::accounts::shaped::USER;
use crate::domain::nodes::loaders::ActiveNodesByLicense;
use crate::domain::nodes::shaped::RUNTIME_NODE;
use crate::domain::plans::shaped::PLAN;
use crate::domain::seats::loaders::HeldAssignmentsByLicense;
use crate::domain::seats::shaped::ASSIGNMENT;
use crate::graphql::shaped::{
    Relation, Rows, Seen, Table, scalar, stored, stored_enum, time, uuid,
};

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
        scalar("id", "{t}.id"),
        scalar("keyPrefix", "{t}.key_prefix"),
        scalar("product", "{t}.product"),
        stored("term", "{t}.term", stored_enum::<LicenseTerm>),
        stored("state", "{t}.state", stored_enum::<LicenseState>),
        stored(
            "paymentState",
            "{t}.payment_state",
            stored_enum::<PaymentState>,
        ),
        scalar("seatsTotal", "{t}.seats_total"),
        scalar("seatsUsed", "{t}.seats_used"),
        time("startsAt", "{t}.starts_at"),
        time("expiresAt", "{t}.expires_at"),
        time("trialEndsAt", "{t}.trial_ends_at"),
        time("graceEndsAt", "{t}.grace_ends_at"),
        time("createdAt", "{t}.created_at"),
        time("updatedAt", "{t}.updated_at"),
        scalar("notes", "{t}.notes"),
        scalar("dba", "{t}.dba"),
        scalar("zip", "{t}.zip"),
        scalar("agents", "{t}.agents"),
        scalar("smsCreditsPurchased", "{t}.sms_credits_purchased"),
        scalar("smsCreditsSent", "{t}.sms_credits_sent"),
        scalar(
            "smsCreditsBalance",
            "{t}.sms_credits_purchased - {t}.sms_credits_sent",
        ),
        scalar("seatsAvailable", "{t}.seats_total - {t}.seats_used"),
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
        Relation {
            name: "developer",
            target: &USER,
            rows: Rows::One {
                key: "developer_id",
                table: "users",
            },
        },
    ],
};
