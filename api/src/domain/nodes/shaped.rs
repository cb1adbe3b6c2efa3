//! A runtime node as rows PostgreSQL shapes (`graphql::shaped`): the fields of
//! `RuntimeNodeObject` read from its row.

use super::model::NodeStatus;
use crate::auth::Audience;
use crate::graphql::shaped::{Seen, Table, scalar, stored, stored_enum, time};

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
        scalar("id", "{t}.id"),
        scalar("fingerprint", "{t}.fingerprint"),
        scalar("name", "{t}.name"),
        scalar("appUrl", "{t}.app_url"),
        scalar("version", "{t}.version"),
        stored("status", "{t}.status", stored_enum::<NodeStatus>),
        time("lastCheckInAt", "{t}.last_check_in_at"),
        time("heartbeatDeadlineAt", "{t}.heartbeat_deadline_at"),
        time("activatedAt", "{t}.activated_at"),
        time("deactivatedAt", "{t}.deactivated_at"),
    ],
    relations: &[],
};
