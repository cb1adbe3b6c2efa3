//! A seat as rows PostgreSQL shapes (`graphql::shaped`): the fields of `AssignmentObject` read
//! from its row.

use super::model::AssignmentStatus;
use crate::auth::Audience;
use crate::graphql::shaped::{Column, Kind, Seen, Table, stored_enum};

/// As `Assignment`'s audience: its license's (the one it was reached from), owned by the
/// license's developer.
pub static ASSIGNMENT: Table = Table {
    type_name: "Assignment",
    audience: &[],
    see: |_, license| {
        let (id, developer) = (license.key?, license.owner?);
        Some(Seen {
            by: Audience::License { id, developer },
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
            name: "status",
            sql: "{t}.status",
            kind: Kind::Enum(|raw| stored_enum(AssignmentStatus::from_stored, raw)),
        },
        Column {
            name: "assignedAt",
            sql: "{t}.assigned_at",
            kind: Kind::Time,
        },
        Column {
            name: "releasedAt",
            sql: "{t}.released_at",
            kind: Kind::Time,
        },
    ],
    relations: &[],
};
