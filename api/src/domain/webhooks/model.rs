//! The webhooks vocabulary: where a delivery stands, why an endpoint is off, the event types an
//! endpoint may ask for, and the body a receiver gets.

use crate::error::{AppError, AppResult};
use crate::vocabulary::text_enum;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use uuid::Uuid;

text_enum!(
    /// Where a delivery stands: waiting for its first attempt (`pending`), failed and to be
    /// tried again (`failed`), answered 2xx (`succeeded`), or given up (`dead`: retried for
    /// `WEBHOOK_RETRY_FOR_SECONDS` in vain, or its endpoint was disabled).
    pub enum WebhookDeliveryStatus {
        Pending => "pending",
        Failed => "failed",
        Succeeded => "succeeded",
        Dead => "dead",
    }
);

text_enum!(
    /// Why an endpoint receives nothing: its owner turned it off, or it kept failing.
    pub enum WebhookDisabledReason {
        ByOwner => "by_owner",
        Failing => "failing",
    }
);

/// The event an endpoint's owner can send itself to try the endpoint (`testWebhookEndpoint`).
pub const TEST_EVENT: &str = "webhook.test";

/// The event published when an endpoint is disabled for failing.
pub const ENDPOINT_DISABLED: &str = "webhook_endpoint.disabled";

/// Every event type an endpoint may receive. Internal notices (a mail queued, usage recorded
/// for the roll-ups) are not among them: they are how the gateways talk to each other.
pub const EVENT_TYPES: &[&str] = &[
    "developer.created",
    "user.email_verified",
    "license.created",
    "license.updated",
    "license.state_changed",
    "license.renewed",
    "license.plan_changed",
    "license.key_regenerated",
    "license.expiring",
    "license.seat_assigned",
    "license.seat_released",
    "license.node_activated",
    "license.node_resurrected",
    "license.node_checked_in_late",
    "license.node_deactivated",
    "license.node_dead",
    "license.node_culled",
    "instance.created",
    "instance.placed",
    "instance.provisioning_started",
    "instance.provisioned",
    "instance.running",
    "instance.suspended",
    "instance.resumed",
    "instance.failed",
    "instance.deleted",
    "usage.threshold_crossed",
    "usage.quota_exceeded",
    "entitlement.override_set",
    "entitlement.override_removed",
    "plan.created",
    "plan.updated",
    "plan.retired",
    "pool.capacity_exhausted",
    "pool.past_threshold",
    ENDPOINT_DISABLED,
    TEST_EVENT,
];

/// Most event types one endpoint names.
const MAX_EVENT_TYPES: usize = 64;

/// Whether events of `kind` go to endpoints at all.
pub fn deliverable(kind: &str) -> bool {
    EVENT_TYPES.contains(&kind)
}

/// The wildcard standing for every type of `kind`'s domain: `license.*` for `license.created`.
pub fn domain_wildcard(kind: &str) -> String {
    let domain = kind.split_once('.').map_or(kind, |(domain, _)| domain);
    format!("{domain}.*")
}

/// The event types a client asked for, checked and stored as one space-separated text: each a
/// known type, a known domain's `domain.*`, or `*` for all; at least one.
pub fn stored_event_types<S: AsRef<str>>(asked: &[S]) -> AppResult<String> {
    if asked.is_empty() || asked.len() > MAX_EVENT_TYPES {
        return Err(AppError::validation(
            "eventTypes",
            format!("name 1 to {MAX_EVENT_TYPES} event types, or `*`"),
        ));
    }
    let mut kept: Vec<&str> = Vec::new();
    for name in asked {
        let name = name.as_ref().trim();
        let known = name == "*"
            || deliverable(name)
            || EVENT_TYPES.iter().any(|kind| domain_wildcard(kind) == name);
        if !known {
            return Err(AppError::validation(
                "eventTypes",
                format!(
                    "unknown event type `{}`; see the list in the README",
                    name.chars().take(60).collect::<String>()
                ),
            ));
        }
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    Ok(kept.join(" "))
}

/// The stored event types as a list.
pub fn event_type_list(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

/// The JSON body an endpoint receives for an event (the Standard Webhooks shape: `type`,
/// `timestamp`, `data`), with the id receivers drop repeats by.
pub fn payload(
    event_id: Uuid,
    kind: &str,
    entity_id: Uuid,
    developer_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    data: &serde_json::Value,
) -> serde_json::Value {
    json!({
        "id": message_id(event_id),
        "type": kind,
        "timestamp": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "entityId": entity_id,
        "developerId": developer_id,
        "data": data,
    })
}

/// The `webhook-id` of an event: the same on every attempt and for every endpoint.
pub fn message_id(event_id: Uuid) -> String {
    format!("msg_{}", event_id.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_known_types_domains_or_everything() {
        assert_eq!(
            stored_event_types(&["license.created", "instance.*", "license.created"])
                .expect("known"),
            "license.created instance.*"
        );
        assert_eq!(stored_event_types(&["*"]).expect("all"), "*");
        for bad in [
            &["mail.queued"][..],
            &["usage.recorded"],
            &["bogus.*"],
            &["license"],
            &[],
        ] {
            assert!(stored_event_types(bad).is_err(), "{bad:?}");
        }
        assert_eq!(domain_wildcard("license.seat_assigned"), "license.*");
    }

    #[test]
    fn every_status_round_trips_through_its_text() {
        for status in WebhookDeliveryStatus::ALL {
            assert_eq!(WebhookDeliveryStatus::parse(status.as_str()), Some(*status));
        }
    }
}
