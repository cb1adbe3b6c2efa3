//! What clients send to find audit events.

use chrono::{DateTime, Utc};
use uuid::Uuid;

// Which audit events `auditEvents` lists.
#[derive(async_graphql::InputObject, Default)]
#[graphql(name = "AuditFilterInput")]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// e.g. `license.` for all license events.
    pub type_prefix: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Text to find in the metadata.
    pub search: Option<String>,
}
