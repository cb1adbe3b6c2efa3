//! An account as rows PostgreSQL shapes (`graphql::shaped`): the fields of `UserObject` read
//! from its row, and a developer's licenses.

use crate::auth::{Audience, Role};
use crate::domain::licenses::loaders::LicensesByDeveloper;
use crate::domain::licenses::shaped::LICENSE;
use crate::graphql::shaped::{
    Relation, Rows, Seen, Table, is_null, scalar, stored, stored_enum, time, uuid,
};

/// As `User`'s audience: the account, and the developer whose team it is in; it owns the
/// licenses reached from it (they are the rows naming it).
pub static USER: Table = Table {
    type_name: "User",
    audience: &["id", "developer_id"],
    see: |columns, _| {
        let id = uuid(columns.first()?)?;
        let team = columns.get(1)?;
        let developer = if is_null(team) {
            None
        } else {
            Some(uuid(team)?)
        };
        Some(Seen {
            by: Audience::Account { id, developer },
            owner: Some(id),
        })
    },
    columns: &[
        scalar("id", "{t}.id"),
        scalar("email", "{t}.email"),
        scalar("name", "{t}.name"),
        stored("role", "{t}.role", stored_enum::<Role>),
        time("emailVerifiedAt", "{t}.email_verified_at"),
        time("createdAt", "{t}.created_at"),
        time("updatedAt", "{t}.updated_at"),
    ],
    relations: &[Relation {
        name: "licenses",
        target: &LICENSE,
        rows: Rows::Many {
            key: "id",
            edge: |cap, columns| LicensesByDeveloper::edge(cap).correlated(columns),
        },
    }],
};
