//! The billing vocabulary, and a provider's event as it arrives.

use crate::error::{AppError, AppResult};
use crate::vocabulary::text_enum;
use serde::Deserialize;

text_enum!(
    /// A subscription's status as the provider reports it.
    pub enum SubscriptionStatus {
        Trialing => "trialing",
        Active => "active",
        PastDue => "past_due",
        Canceled => "canceled",
        Unpaid => "unpaid",
        Paused => "paused",
        Incomplete => "incomplete",
        IncompleteExpired => "incomplete_expired",
    }
);

text_enum!(
    /// How a received webhook was handled: applied, stored and acknowledged without effect
    /// (an unknown type, or older than what is mirrored), waiting to be retried after a
    /// failure, or given up by an admin.
    pub enum WebhookStatus {
        Processed => "processed",
        Ignored => "ignored",
        Failed => "failed",
        Discarded => "discarded",
    }
);

/// A handler's failure over what the event's object lacks: the event is kept as a dead letter
/// and tried again later (VALIDATION on `data.object`, with what was missing).
pub fn unusable(what: &str) -> AppError {
    AppError::validation("data.object", what.to_owned())
}

/// The payment provider of the card network.
pub const STRIPE: &str = "stripe";
/// The gateway's own stand-in, completing every payment at once (no key configured).
pub const SANDBOX: &str = "sandbox";

fn stripe() -> &'static str {
    STRIPE
}

/// A stored provider name as the constant that names it.
pub fn provider_named(name: &str) -> &'static str {
    if name == SANDBOX { SANDBOX } else { STRIPE }
}

/// A provider event: what every handler reads.
#[derive(Clone, Debug, Deserialize)]
pub struct ProviderEvent {
    /// Who sent it: set by the receiver, never read from the body.
    #[serde(skip, default = "stripe")]
    pub provider: &'static str,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When the provider made the event (Unix seconds): what orders events about one object.
    pub created: i64,
    pub data: EventData,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

impl ProviderEvent {
    /// The event in a request body, checked: ids and types are short plain text.
    pub fn parse(body: &[u8]) -> AppResult<Self> {
        let event: Self = serde_json::from_slice(body)
            .map_err(|_| AppError::validation("body", "not a provider event"))?;
        let plain = |text: &str, max: usize| {
            !text.is_empty()
                && text.len() <= max
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        };
        if !plain(&event.id, 255) {
            return Err(AppError::validation("id", "not a provider event id"));
        }
        if !plain(&event.kind, 100) {
            return Err(AppError::validation("type", "not a provider event type"));
        }
        if event.created <= 0 {
            return Err(AppError::validation("created", "not a time"));
        }
        Ok(event)
    }

    /// A text field of the event's object.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.data.object.get(field)?.as_str()
    }

    /// A time field of the event's object (Unix seconds).
    pub fn time(&self, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let seconds = self.data.object.get(field)?.as_i64()?;
        chrono::DateTime::from_timestamp(seconds, 0)
    }

    pub fn created_at(&self) -> AppResult<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.created, 0)
            .ok_or_else(|| AppError::validation("created", "not a time"))
    }
}

text_enum!(
    /// Where an invoice stands, as the provider reports it.
    pub enum InvoiceStatus {
        Draft => "draft",
        Open => "open",
        Paid => "paid",
        Uncollectible => "uncollectible",
        Void => "void",
    }
);

text_enum!(
    /// What became of a money movement.
    pub enum TransactionStatus {
        Succeeded => "succeeded",
        Failed => "failed",
        Pending => "pending",
        Refunded => "refunded",
    }
);

text_enum!(
    /// What a money movement paid for.
    pub enum TransactionKind {
        Subscription => "subscription",
        Addon => "addon",
    }
);
