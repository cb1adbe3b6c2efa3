//! The webhook outbox's one write: when a unit of work commits events, a delivery row for each
//! event and each enabled endpoint that wants it and may see it, in the same transaction, so a
//! delivery exists if and only if its change committed.
//!
//! It is one `INSERT ... SELECT` over the endpoints (on PostgreSQL folded into the statement
//! that writes the audit rows and the event log, so it costs no round trip), reading only the
//! endpoints of the events' owners and of the admins, each through an index. An endpoint
//! receives an event when it is enabled, names the event's type, its domain (`license.*`) or
//! `*`, and its owner may see the event: the event is the owner's (its `developer_id`), or the
//! owner is an admin.
//!
//! A delivery's id is the event's id with its last eight bytes taken from the endpoint's id:
//! made in the statement, unique per endpoint, and still ordered by time like every id.

use super::model::{self, WebhookDeliveryStatus};
use crate::events::DomainEvent;
use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Value};
use uuid::Uuid;

/// The pieces of the fan-out for one commit: a CTE naming the events (`webhook_events_out`)
/// and the insert reading it, with their values in placeholder order.
pub struct FanOut {
    /// `webhook_events_out(...) AS (VALUES ...)`, to follow `WITH` or a comma.
    pub events_cte: String,
    /// `INSERT INTO webhook_deliveries ... SELECT ... FROM webhook_events_out ...`.
    pub insert: String,
    pub values: Vec<Value>,
}

/// The fan-out of `events` committed at `now`, their deliveries retried until `retry_until`;
/// `None` when none of them is a type endpoints receive. PostgreSQL placeholders start at `$1`.
pub fn fan_out(
    backend: DbBackend,
    events: &[DomainEvent],
    now: DateTime<Utc>,
    retry_until: DateTime<Utc>,
) -> Option<FanOut> {
    let out: Vec<&DomainEvent> = events
        .iter()
        .filter(|event| model::deliverable(&event.kind))
        .collect();
    if out.is_empty() {
        return None;
    }
    let postgres = backend == DbBackend::Postgres;
    let mut values: Vec<Value> = Vec::with_capacity(2 + out.len() * 5);
    let mut next = |value: Value| {
        values.push(value);
        // Numbered on both, since the insert names its times again after the events.
        if postgres {
            format!("${}", values.len())
        } else {
            format!("?{}", values.len())
        }
    };
    let at = next(now.fixed_offset().into());
    let until = next(retry_until.fixed_offset().into());
    let rows: Vec<String> = out
        .iter()
        .map(|event| {
            let id = Uuid::now_v7();
            let body = model::payload(
                id,
                &event.kind,
                event.entity_id,
                event.developer_id,
                event.occurred_at,
                &event.data,
            );
            let cells = [
                next(id.into()),
                next(event.kind.clone().into()),
                next(model::domain_wildcard(&event.kind).into()),
                next(event.developer_id.into()),
                next(body.into()),
            ];
            if postgres {
                // The first row's casts type the VALUES list's columns.
                format!(
                    "({}::uuid, {}::text, {}::text, {}::uuid, {}::json)",
                    cells[0], cells[1], cells[2], cells[3], cells[4]
                )
            } else {
                format!("({})", cells.join(", "))
            }
        })
        .collect();
    let events_cte = format!(
        "webhook_events_out (event_id, kind, domain_types, developer_id, payload) AS (VALUES {})",
        rows.join(", ")
    );
    let (delivery_id, contains) = if postgres {
        (
            "(substr(replace(ev.event_id::text, '-', ''), 1, 16) \
             || substr(replace(e.id::text, '-', ''), 17, 16))::uuid",
            "strpos",
        )
    } else {
        (
            "unhex(substr(hex(ev.event_id), 1, 16) || substr(hex(e.id), 17, 16))",
            "instr",
        )
    };
    let pending = WebhookDeliveryStatus::Pending.as_str();
    let select = format!(
        "SELECT {delivery_id}, e.id, e.owner_id, ev.event_id, ev.kind, ev.payload, '{pending}', \
             0, {at}, {until}, {at} FROM webhook_events_out ev"
    );
    let wanted = format!(
        "e.enabled \
         AND ({contains}(' ' || e.event_types || ' ', ' ' || ev.kind || ' ') > 0 \
             OR {contains}(' ' || e.event_types || ' ', ' ' || ev.domain_types || ' ') > 0 \
             OR {contains}(' ' || e.event_types || ' ', ' * ') > 0)"
    );
    // Two branches, each found through an index rather than by reading every endpoint: the
    // event owner's endpoints (by owner), and the admins' (admins by role, then by owner),
    // leaving out an admin's endpoint the first branch took already.
    let insert = format!(
        "INSERT INTO webhook_deliveries (id, endpoint_id, owner_id, event_id, event_type, payload, \
             status, attempts, next_attempt_at, retry_until, created_at) \
         {select} JOIN webhook_endpoints e ON e.owner_id = ev.developer_id WHERE {wanted} \
         UNION ALL \
         {select} JOIN webhook_endpoints e ON e.owner_id IN ( \
             SELECT u.id FROM users u WHERE u.role = 'admin') \
         WHERE (ev.developer_id IS NULL OR e.owner_id <> ev.developer_id) AND {wanted}"
    );
    Some(FanOut {
        events_cte,
        insert,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str) -> DomainEvent {
        DomainEvent {
            kind: kind.to_owned(),
            entity_id: Uuid::now_v7(),
            developer_id: Some(Uuid::now_v7()),
            data: serde_json::json!({}),
            occurred_at: Utc::now(),
            position: 0,
        }
    }

    #[test]
    fn only_deliverable_events_are_fanned_out() {
        let now = Utc::now();
        assert!(fan_out(DbBackend::Postgres, &[event("mail.queued")], now, now).is_none());
        let out = fan_out(
            DbBackend::Postgres,
            &[event("mail.queued"), event("license.created")],
            now,
            now,
        )
        .expect("one deliverable");
        assert_eq!(out.values.len(), 2 + 5);
        assert!(out.events_cte.contains("$7::json"), "{}", out.events_cte);
        let sqlite =
            fan_out(DbBackend::Sqlite, &[event("license.created")], now, now).expect("deliverable");
        assert!(!sqlite.insert.contains('$'));
        assert!(sqlite.events_cte.contains("?7"), "{}", sqlite.events_cte);
    }
}
