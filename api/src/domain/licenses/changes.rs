//! What a license change records: the audit entry and the event subscribers receive.

use super::model::LicenseTerm;
use crate::events::{Change, Event};
use chrono::Duration;
use entity::licenses;
use serde_json::json;

/// A change to `license` of this kind, audited with `metadata` and published to
/// `licenseEvents` under the same kind.
pub fn change(kind: &str, license: &licenses::Model, metadata: serde_json::Value) -> Change {
    Change::new(kind, "license", license.id)
        .owner(license.developer_id)
        .metadata(metadata)
        .publish(event(kind, license))
}

/// The event subscribers see for a license change.
pub fn event(kind: &str, license: &licenses::Model) -> Event {
    Event {
        kind: kind.to_owned(),
        entity_id: license.id,
        developer_id: Some(license.developer_id),
        data: json!({ "state": license.state, "paymentState": license.payment_state }),
    }
}

/// What the audit trail keeps of a license: never its key.
pub fn audit_snapshot(license: &licenses::Model) -> serde_json::Value {
    json!({
        "keyPrefix": license.key_prefix,
        "planId": license.plan_id,
        "product": license.product,
        "state": license.state,
        "paymentState": license.payment_state,
        "term": license.term,
        "seatsTotal": license.seats_total,
    })
}

pub fn term_length(term: LicenseTerm) -> Duration {
    match term {
        LicenseTerm::Monthly => Duration::days(30),
        LicenseTerm::Yearly => Duration::days(365),
    }
}
