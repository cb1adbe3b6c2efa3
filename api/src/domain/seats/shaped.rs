//! A seat as rows PostgreSQL shapes (`graphql::shaped`): the fields of `AssignmentObject` read
//! from its row.

use super::model::AssignmentStatus;
use crate::auth::Audience;
use crate::domain::accounts::shaped::USER;
use crate::graphql::shaped::{Relation, Rows, Seen, Table, scalar, stored, stored_enum, time};

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
        scalar("id", "{t}.id"),
        stored("status", "{t}.status", stored_enum::<AssignmentStatus>),
        time("assignedAt", "{t}.assigned_at"),
        time("releasedAt", "{t}.released_at"),
    ],
    relations: &[Relation {
        name: "user",
        target: &USER,
        rows: Rows::One {
            key: "user_id",
            table: "users",
        },
    }],
};
