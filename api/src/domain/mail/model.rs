//! The mail vocabulary, the mail a flow hands to `queue`, and the two ways a stored mail reads:
//! as it goes out (its one-time link whole) and as it is shown (the link's token `[hidden]`).

use crate::vocabulary::text_enum;
use entity::mail_outbox;
use secrecy::{ExposeSecret, SecretString};

text_enum!(
    /// What a mail is for.
    pub enum MailKind {
        Invitation => "invitation",
        EmailVerification => "email_verification",
        PasswordReset => "password_reset",
        WebhookEndpointDisabled => "webhook_endpoint_disabled",
    }
);

text_enum!(
    /// Where a mail stands: waiting (`pending`, retried after a failure), delivered to the mail
    /// server (`sent`), given up (`failed`), or written to the log because no mail server is
    /// configured (`logged`).
    pub enum MailStatus {
        Pending => "pending",
        Sent => "sent",
        Failed => "failed",
        Logged => "logged",
    }
);

/// Where the one-time link goes in a mail's body.
pub const LINK: &str = "{link}";

/// What stands for a link's token wherever a mail is shown instead of sent.
pub const HIDDEN: &str = "[hidden]";

/// A mail a flow sends, queued with `service::queue` in the flow's unit of work.
pub struct OutgoingMail {
    pub kind: MailKind,
    /// The recipient's address.
    pub to: String,
    /// One line, without the link or its token.
    pub subject: String,
    /// Plain text. With a link, `{link}` stands (once) where it goes; the text itself never
    /// holds the token.
    pub body: String,
    /// The one-time link the mail carries, if any.
    pub link: Option<OneTimeLink>,
}

/// A link to `PUBLIC_URL` + `path` carrying `?token=...`. The token goes out in the mail and
/// nowhere else: not into logs, not into what admins read, not into an error.
pub struct OneTimeLink {
    /// Under `PUBLIC_URL`, starting with `/`, without a query: `/reset-password`.
    pub path: String,
    /// URL-safe text (letters, digits, `-`, `_`), such as 32 random bytes in unpadded
    /// base64url. The flow stores only a digest of it.
    pub token: SecretString,
}

impl OutgoingMail {
    pub fn new(
        kind: MailKind,
        to: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            to: to.into(),
            subject: subject.into(),
            body: body.into(),
            link: None,
        }
    }

    /// The same mail carrying a one-time link to `path` with `token`, placed at `{link}`.
    pub fn with_link(self, path: impl Into<String>, token: SecretString) -> Self {
        Self {
            link: Some(OneTimeLink {
                path: path.into(),
                token,
            }),
            ..self
        }
    }
}

/// The link with `token` in it.
fn link_with(address: &str, token: &str) -> String {
    format!("{address}?token={token}")
}

/// A stored mail's body as logs and admins read it: its link with the token `[hidden]`.
pub fn shown_body(row: &mail_outbox::Model) -> String {
    match &row.link {
        Some(address) => row.body_text.replace(LINK, &link_with(address, HIDDEN)),
        None => row.body_text.clone(),
    }
}

/// A stored mail's body as it goes out, its link whole; `None` when the link's token is gone
/// (the mail is no longer pending).
pub fn sent_body(row: &mail_outbox::Model) -> Option<SecretString> {
    match (&row.link, &row.link_token) {
        (Some(address), Some(token)) => Some(SecretString::from(
            row.body_text.replace(LINK, &link_with(address, token)),
        )),
        (Some(_), None) => None,
        (None, _) => Some(SecretString::from(row.body_text.clone())),
    }
}

/// `text` with every occurrence of the row's token `[hidden]`: for whatever a mail server
/// answered, before it is stored or logged.
pub fn without_token(row: &mail_outbox::Model, text: &str) -> String {
    match row.link_token.as_deref().filter(|token| !token.is_empty()) {
        Some(token) => text.replace(token, HIDDEN),
        None => text.to_owned(),
    }
}

/// Whether `token` may travel in a URL as it is.
pub(super) fn url_safe(token: &SecretString) -> bool {
    token
        .expose_secret()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn row(link: Option<&str>, token: Option<&str>) -> mail_outbox::Model {
        let now = Utc::now().into();
        mail_outbox::Model {
            id: Uuid::now_v7(),
            kind: MailKind::PasswordReset.as_str().to_owned(),
            recipient: "ada@example.com".into(),
            subject: "Reset your password".into(),
            body_text: format!("Follow {LINK} within the hour."),
            link: link.map(str::to_owned),
            link_token: token.map(str::to_owned),
            status: MailStatus::Pending.as_str().to_owned(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        }
    }

    #[test]
    fn the_token_goes_out_in_the_mail_and_is_hidden_everywhere_else() {
        let token = "s3cr3t-token_value";
        let mail = row(Some("https://gw.example.com/reset-password"), Some(token));
        let sent = sent_body(&mail).expect("a pending mail has its token");
        assert_eq!(
            sent.expose_secret(),
            "Follow https://gw.example.com/reset-password?token=s3cr3t-token_value within the hour."
        );
        let shown = shown_body(&mail);
        assert_eq!(
            shown,
            "Follow https://gw.example.com/reset-password?token=[hidden] within the hour."
        );
        assert!(!shown.contains(token));
        let answer = format!("550 unknown recipient in {}", sent.expose_secret());
        assert!(!without_token(&mail, &answer).contains(token));
    }

    #[test]
    fn a_mail_whose_token_is_gone_has_nothing_to_send() {
        let gone = row(Some("https://gw.example.com/verify-email"), None);
        assert!(sent_body(&gone).is_none());
        assert!(shown_body(&gone).contains("?token=[hidden]"));
    }

    #[test]
    fn only_url_safe_tokens_are_taken() {
        assert!(url_safe(&SecretString::from("abc-DEF_123")));
        assert!(!url_safe(&SecretString::from("a b")));
        assert!(!url_safe(&SecretString::from("a&b=c")));
    }

    #[test]
    fn every_kind_and_status_round_trips_through_its_text() {
        for kind in MailKind::ALL {
            assert_eq!(MailKind::parse(kind.as_str()), Some(*kind));
        }
        for status in MailStatus::ALL {
            assert_eq!(MailStatus::parse(status.as_str()), Some(*status));
        }
    }
}
