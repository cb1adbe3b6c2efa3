//! A runtime node as rows PostgreSQL shapes (`graphql::shaped`): the fields of
//! `RuntimeNodeObject` read from its row.

use super::model::NodeStatus;
use crate::auth::Audience;
use crate::graphql::shaped::{Column, Kind, Seen, Table, stored_enum};

/// As `RuntimeNode`'s audience: its license's runtime (the license it was reached from), owned
/// by the license's developer.
pub static RUNTIME_NODE: Table = Table {
    type_name: "RuntimeNode",
    audience: &[],
    see: |_, license| {
        let (license, developer) = (license.key?, license.owner?);
        Some(Seen {
            by: Audience::Runtime { license, developer },
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
            name: "fingerprint",
            sql: "{t}.fingerprint",
            kind: Kind::Scalar,
        },
        Column {
            name: "name",
            sql: "{t}.name",
            kind: Kind::Scalar,
        },
        Column {
            name: "appUrl",
            sql: "{t}.app_url",
            kind: Kind::Scalar,
        },
        Column {
            name: "version",
            sql: "{t}.version",
            kind: Kind::Scalar,
        },
        Column {
            name: "status",
            sql: "{t}.status",
            kind: Kind::Enum(|raw| stored_enum(NodeStatus::from_stored, raw)),
        },
        Column {
            name: "lastCheckInAt",
            sql: "{t}.last_check_in_at",
            kind: Kind::Time,
        },
        Column {
            name: "heartbeatDeadlineAt",
            sql: "{t}.heartbeat_deadline_at",
            kind: Kind::Time,
        },
        Column {
            name: "activatedAt",
            sql: "{t}.activated_at",
            kind: Kind::Time,
        },
        Column {
            name: "deactivatedAt",
            sql: "{t}.deactivated_at",
            kind: Kind::Time,
        },
    ],
    relations: &[],
};
