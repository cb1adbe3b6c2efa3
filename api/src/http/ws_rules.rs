//! The graphql-transport-ws rules the engine leaves to us, as a state machine over the messages
//! each way: a refused `connection_init` closes with 4403, `subscribe` before the ack with 4401,
//! a second `connection_init` with 4429, an id already in use with 4409, anything malformed or
//! of an unknown type with 4400. An operation past the socket's limit of running operations is
//! answered with an error for its id (RATE_LIMITED) and never reaches the engine. The engine
//! keeps the GraphQL; this only decides what reaches it.
//!
//! The older subscriptions-transport-ws protocol has rules of its own and is passed through,
//! but for the same limit on running operations.

use crate::error::Code;
use serde::Deserialize;
use std::collections::HashSet;

/// The longest close reason a WebSocket frame carries.
const MAX_REASON_BYTES: usize = 123;

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Hand the message to the engine.
    Forward,
    /// Close the socket with this code and reason.
    Close(u16, String),
    /// Answer the client with this message instead; the engine never sees the request.
    Answer(String),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

pub struct Rules {
    /// Whether the socket speaks graphql-transport-ws (else everything passes).
    strict: bool,
    init_received: bool,
    acknowledged: bool,
    /// Operations started and not yet completed, by id.
    running: HashSet<String>,
    /// Most operations running at once.
    max_running: usize,
}

fn invalid() -> Verdict {
    Verdict::Close(4400, "Invalid message received".into())
}

/// `reason` cut to what a close frame can carry, on a character boundary.
fn fit(reason: String) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

impl Rules {
    pub fn new(strict: bool, max_running: usize) -> Self {
        Self {
            strict,
            init_received: false,
            acknowledged: false,
            running: HashSet::new(),
            max_running: max_running.max(1),
        }
    }

    /// The error an operation past the limit gets, in the socket's protocol.
    fn too_many(&self, id: &str) -> Verdict {
        let error = serde_json::json!({
            "message": format!("at most {} operations may run at once on one socket", self.max_running),
            "extensions": { "code": Code::RateLimited.as_str(), "retryAfter": 1 },
        });
        let message = if self.strict {
            serde_json::json!({ "id": id, "type": "error", "payload": [error] })
        } else {
            serde_json::json!({ "id": id, "type": "error", "payload": error })
        };
        Verdict::Answer(message.to_string())
    }

    /// Whether the socket is still owed its `connection_init` (and may time out waiting).
    pub fn awaiting_init(&self) -> bool {
        self.strict && !self.init_received
    }

    /// What to do with a message from the client.
    pub fn inbound(&mut self, text: &str) -> Verdict {
        if !self.strict {
            return self.legacy_inbound(text);
        }
        let Ok(message) = serde_json::from_str::<Envelope>(text) else {
            return invalid();
        };
        match message.kind.as_str() {
            "connection_init" if self.init_received => {
                Verdict::Close(4429, "Too many initialisation requests".into())
            }
            "connection_init" => {
                self.init_received = true;
                Verdict::Forward
            }
            "subscribe" if !self.acknowledged => Verdict::Close(4401, "Unauthorized".into()),
            "subscribe" => match message.id {
                Some(id) if self.running.contains(&id) => {
                    Verdict::Close(4409, fit(format!("Subscriber for {id} already exists")))
                }
                Some(id) if self.running.len() >= self.max_running => self.too_many(&id),
                Some(id) => {
                    self.running.insert(id);
                    Verdict::Forward
                }
                None => invalid(),
            },
            "complete" => {
                if let Some(id) = &message.id {
                    self.running.remove(id);
                }
                Verdict::Forward
            }
            "ping" | "pong" => Verdict::Forward,
            _ => invalid(),
        }
    }

    /// subscriptions-transport-ws: only the limit on running operations (`start` .. `stop`).
    fn legacy_inbound(&mut self, text: &str) -> Verdict {
        let Ok(message) = serde_json::from_str::<Envelope>(text) else {
            return Verdict::Forward;
        };
        match (message.kind.as_str(), message.id) {
            ("start", Some(id)) if !self.running.contains(&id) => {
                if self.running.len() >= self.max_running {
                    return self.too_many(&id);
                }
                self.running.insert(id);
                Verdict::Forward
            }
            ("stop", Some(id)) => {
                self.running.remove(&id);
                Verdict::Forward
            }
            _ => Verdict::Forward,
        }
    }

    /// Takes note of a message the engine sends: the ack, and operations that have ended.
    pub fn outbound(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Envelope>(text) else {
            return;
        };
        match (message.kind.as_str(), message.id) {
            ("connection_ack", _) => self.acknowledged = true,
            ("complete" | "error", Some(id)) => {
                self.running.remove(&id);
            }
            _ => {}
        }
    }

    /// The close the client should see when the engine closes with `code`: an initialisation
    /// the engine refused is 4403 Forbidden, whatever code the engine chose.
    pub fn closing(&self, code: u16, reason: String) -> (u16, String) {
        if self.strict && self.init_received && !self.acknowledged {
            return (4403, fit(format!("Forbidden: {reason}")));
        }
        (code, fit(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acknowledged() -> Rules {
        let mut rules = Rules::new(true, 100);
        assert_eq!(
            rules.inbound(r#"{"type":"connection_init"}"#),
            Verdict::Forward
        );
        rules.outbound(r#"{"type":"connection_ack"}"#);
        rules
    }

    fn code(verdict: Verdict) -> Option<u16> {
        match verdict {
            Verdict::Close(code, _) => Some(code),
            Verdict::Forward | Verdict::Answer(_) => None,
        }
    }

    #[test]
    fn operations_past_the_limit_are_answered_with_an_error_and_never_forwarded() {
        let mut rules = Rules::new(true, 2);
        rules.inbound(r#"{"type":"connection_init"}"#);
        rules.outbound(r#"{"type":"connection_ack"}"#);
        let subscribe = |id: &str| format!(r#"{{"id":"{id}","type":"subscribe","payload":{{}}}}"#);
        assert_eq!(rules.inbound(&subscribe("a")), Verdict::Forward);
        assert_eq!(rules.inbound(&subscribe("b")), Verdict::Forward);
        let Verdict::Answer(answer) = rules.inbound(&subscribe("c")) else {
            panic!("the third is refused");
        };
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("json");
        assert_eq!(answer["id"], "c");
        assert_eq!(answer["type"], "error");
        assert_eq!(answer["payload"][0]["extensions"]["code"], "RATE_LIMITED");
        rules.outbound(r#"{"id":"a","type":"complete"}"#);
        assert_eq!(
            rules.inbound(&subscribe("c")),
            Verdict::Forward,
            "room again"
        );

        let mut legacy = Rules::new(false, 1);
        let start = |id: &str| format!(r#"{{"id":"{id}","type":"start","payload":{{}}}}"#);
        assert_eq!(legacy.inbound(&start("1")), Verdict::Forward);
        assert!(matches!(legacy.inbound(&start("2")), Verdict::Answer(_)));
        legacy.inbound(r#"{"id":"1","type":"stop"}"#);
        assert_eq!(legacy.inbound(&start("2")), Verdict::Forward);
    }

    #[test]
    fn subscribing_before_the_ack_is_unauthorized() {
        let mut rules = Rules::new(true, 100);
        assert!(rules.awaiting_init());
        let subscribe = r#"{"id":"1","type":"subscribe","payload":{"query":"{ a }"}}"#;
        assert_eq!(code(rules.inbound(subscribe)), Some(4401));
        rules.inbound(r#"{"type":"connection_init"}"#);
        assert!(!rules.awaiting_init());
        assert_eq!(
            code(rules.inbound(subscribe)),
            Some(4401),
            "init sent, not yet acked"
        );
    }

    #[test]
    fn an_id_is_taken_until_its_operation_ends() {
        let mut rules = acknowledged();
        let subscribe = r#"{"id":"a","type":"subscribe","payload":{"query":"{ a }"}}"#;
        assert_eq!(rules.inbound(subscribe), Verdict::Forward);
        assert_eq!(code(rules.inbound(subscribe)), Some(4409));
        rules.outbound(r#"{"id":"a","type":"complete"}"#);
        assert_eq!(
            rules.inbound(subscribe),
            Verdict::Forward,
            "reusable once complete"
        );
        assert_eq!(
            rules.inbound(r#"{"id":"a","type":"complete"}"#),
            Verdict::Forward
        );
        assert_eq!(
            rules.inbound(subscribe),
            Verdict::Forward,
            "and once the client stops it"
        );
        rules.outbound(r#"{"id":"a","type":"error","payload":[]}"#);
        assert_eq!(
            rules.inbound(subscribe),
            Verdict::Forward,
            "and once it failed"
        );
    }

    #[test]
    fn malformed_unknown_and_repeated_messages_close_the_socket() {
        let mut rules = acknowledged();
        assert_eq!(code(rules.inbound("not json")), Some(4400));
        assert_eq!(
            code(rules.inbound(r#"{"type":"start","id":"1"}"#)),
            Some(4400)
        );
        assert_eq!(code(rules.inbound(r#"{"type":"subscribe"}"#)), Some(4400));
        assert_eq!(
            code(rules.inbound(r#"{"type":"connection_init"}"#)),
            Some(4429)
        );
        assert_eq!(rules.inbound(r#"{"type":"ping"}"#), Verdict::Forward);
    }

    #[test]
    fn a_refused_initialisation_closes_as_forbidden() {
        let mut rules = Rules::new(true, 100);
        rules.inbound(r#"{"type":"connection_init","payload":{"Authorization":"Bearer x"}}"#);
        let (code, reason) = rules.closing(1002, "invalid token".repeat(20));
        assert_eq!(code, 4403);
        assert!(reason.starts_with("Forbidden: invalid token"));
        assert!(reason.len() <= MAX_REASON_BYTES);
        let acked = acknowledged();
        assert_eq!(acked.closing(1000, "bye".into()), (1000, "bye".into()));
    }

    #[test]
    fn the_older_protocol_passes_through() {
        let mut rules = Rules::new(false, 100);
        assert!(!rules.awaiting_init());
        assert_eq!(
            rules.inbound(r#"{"type":"start","id":"1"}"#),
            Verdict::Forward
        );
        assert_eq!(rules.closing(1011, "x".into()), (1011, "x".into()));
    }
}
