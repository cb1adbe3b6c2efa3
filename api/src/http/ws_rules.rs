//! The graphql-transport-ws rules the engine leaves to us, as a state machine over the messages
//! each way: a refused `connection_init` closes with 4403, `subscribe` before the ack with 4401,
//! a second `connection_init` with 4429, an id already in use with 4409, anything malformed or
//! of an unknown type with 4400. The engine keeps the GraphQL; this only decides what reaches it.
//!
//! The older subscriptions-transport-ws protocol has rules of its own and is passed through.

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
    pub fn new(strict: bool) -> Self {
        Self {
            strict,
            init_received: false,
            acknowledged: false,
            running: HashSet::new(),
        }
    }

    /// Whether the socket is still owed its `connection_init` (and may time out waiting).
    pub fn awaiting_init(&self) -> bool {
        self.strict && !self.init_received
    }

    /// What to do with a message from the client.
    pub fn inbound(&mut self, text: &str) -> Verdict {
        if !self.strict {
            return Verdict::Forward;
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

    /// Takes note of a message the engine sends: the ack, and operations that have ended.
    pub fn outbound(&mut self, text: &str) {
        if !self.strict {
            return;
        }
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
        let mut rules = Rules::new(true);
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
            Verdict::Forward => None,
        }
    }

    #[test]
    fn subscribing_before_the_ack_is_unauthorized() {
        let mut rules = Rules::new(true);
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
        let mut rules = Rules::new(true);
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
        let mut rules = Rules::new(false);
        assert!(!rules.awaiting_init());
        assert_eq!(
            rules.inbound(r#"{"type":"start","id":"1"}"#),
            Verdict::Forward
        );
        assert_eq!(rules.closing(1011, "x".into()), (1011, "x".into()));
    }
}
