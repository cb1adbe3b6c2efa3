//! Where mail goes: a `Mailer` takes one letter at a time. Through SMTP when `SMTP_URL` is set;
//! otherwise into the log, without the link's token.

use super::model::{MailKind, MailStatus, sent_body, shown_body};
use crate::config::MailConfig;
use entity::mail_outbox;
use futures_util::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How long one conversation with the mail server may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// One mail as a mailer takes it. Its body as sent is secret (it holds the link's token) and
/// is read only to hand it to the mail server; everything else may be logged.
#[derive(Debug)]
pub struct Letter {
    pub id: Uuid,
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    /// The body as logs and admins read it: the link's token `[hidden]`.
    pub shown_body: String,
    body: SecretString,
}

impl Letter {
    /// The letter for a stored mail; `None` when its link's token is gone.
    pub fn from_row(row: &mail_outbox::Model) -> Option<Self> {
        Some(Self {
            id: row.id,
            kind: MailKind::parse(&row.kind)?,
            to: row.recipient.clone(),
            subject: row.subject.clone(),
            shown_body: shown_body(row),
            body: sent_body(row)?,
        })
    }

    /// The body as it goes out, the link's token in it: for the mail server only.
    fn body_to_send(&self) -> &str {
        self.body.expose_secret()
    }
}

/// Why a letter did not go: the mail server's answer or the connection's failure, and whether
/// trying again could help.
#[derive(Debug)]
pub struct Undelivered {
    pub reason: String,
    /// The server refused for good (a 5xx answer, a recipient it cannot take): no retry.
    pub permanent: bool,
}

pub trait Mailer: Send + Sync {
    /// What a mail this mailer took becomes: `sent`, or `logged` where it only logs.
    fn delivered(&self) -> MailStatus;

    /// Hands the letter on; done when the mail server has accepted it.
    fn deliver<'a>(&'a self, letter: &'a Letter) -> BoxFuture<'a, Result<(), Undelivered>>;
}

/// The mailer the settings ask for: SMTP when `SMTP_URL` is set, else the log. A setting that
/// cannot be read stops the start, without repeating the URL (it may hold a password).
pub fn from_config(config: &MailConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|_| anyhow::anyhow!("MAIL_FROM: expected an address or `Name <address>`"))?;
    Ok(match &config.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url, from)?),
        None => Arc::new(LogMailer),
    })
}

/// Sends through an SMTP server: `smtp://` in the clear (`?tls=required` for STARTTLS),
/// `smtps://` over TLS from the start, with the URL's user and password if it has them.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &SecretString, from: Mailbox) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| {
                anyhow::anyhow!(
                    "SMTP_URL: expected smtp://user:pass@host:port or smtps://user:pass@host:port"
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    fn message(&self, letter: &Letter) -> Result<Message, Undelivered> {
        let to: Mailbox = letter.to.parse().map_err(|_| Undelivered {
            reason: "the recipient is not an address".into(),
            permanent: true,
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(letter.body_to_send().to_owned())
            .map_err(|err| Undelivered {
                reason: format!("the message could not be built: {err}"),
                permanent: true,
            })
    }
}

impl Mailer for SmtpMailer {
    fn delivered(&self) -> MailStatus {
        MailStatus::Sent
    }

    fn deliver<'a>(&'a self, letter: &'a Letter) -> BoxFuture<'a, Result<(), Undelivered>> {
        Box::pin(async move {
            let message = self.message(letter)?;
            self.transport
                .send(message)
                .await
                .map(drop)
                .map_err(|err| Undelivered {
                    reason: err.to_string(),
                    permanent: err.is_permanent(),
                })
        })
    }
}

/// For a gateway without a mail server: writes who a mail is for and its subject to the log,
/// never its body or link, and the mail is kept as `logged` for admins to read.
pub struct LogMailer;

impl LogMailer {
    /// The line logged for a letter.
    pub fn line(letter: &Letter) -> String {
        format!("mail to {}: {}", letter.to, letter.subject)
    }
}

impl Mailer for LogMailer {
    fn delivered(&self) -> MailStatus {
        MailStatus::Logged
    }

    fn deliver<'a>(&'a self, letter: &'a Letter) -> BoxFuture<'a, Result<(), Undelivered>> {
        tracing::info!(mail = %letter.id, kind = letter.kind.as_str(), "{}", Self::line(letter));
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mail::model::LINK;
    use chrono::Utc;

    const TOKEN: &str = "tok_secret_0123456789";

    fn letter() -> Letter {
        let now = Utc::now().into();
        let row = mail_outbox::Model {
            id: Uuid::now_v7(),
            kind: MailKind::EmailVerification.as_str().to_owned(),
            recipient: "ada@example.com".into(),
            subject: "Confirm your address".into(),
            body_text: format!("Confirm with {LINK}"),
            link: Some("http://127.0.0.1:8080/verify-email".into()),
            link_token: Some(TOKEN.into()),
            status: MailStatus::Pending.as_str().to_owned(),
            attempts: 1,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        };
        Letter::from_row(&row).expect("pending with its token")
    }

    #[test]
    fn the_log_line_names_recipient_and_subject_and_never_the_token() {
        let letter = letter();
        let line = LogMailer::line(&letter);
        assert_eq!(line, "mail to ada@example.com: Confirm your address");
        assert!(!format!("{letter:?}").contains(TOKEN), "{letter:?}");
        assert!(!letter.shown_body.contains(TOKEN));
        assert!(letter.body_to_send().contains(TOKEN));
    }

    #[test]
    fn settings_that_cannot_be_read_stop_the_start_without_echoing_the_url() {
        let config = |smtp: Option<&str>, from: &str| MailConfig {
            public_url: "http://127.0.0.1:8080".into(),
            smtp_url: smtp.map(SecretString::from),
            from: from.into(),
            poll_seconds: 5,
            max_attempts: 8,
            retry_seconds: 60,
        };
        assert!(from_config(&config(None, "Gateway <gw@example.com>")).is_ok());
        let bad_from = from_config(&config(None, "not a mailbox"))
            .err()
            .expect("refused");
        assert!(bad_from.to_string().contains("MAIL_FROM"));
        let secret = "pop3://user:hunter2@mail.example.com";
        let bad_url = from_config(&config(Some(secret), "gw@example.com"))
            .err()
            .expect("refused");
        assert!(bad_url.to_string().contains("SMTP_URL"));
        assert!(!bad_url.to_string().contains("hunter2"));
        let smtp = from_config(&config(
            Some("smtp://user:pass@127.0.0.1:2525"),
            "gw@example.com",
        ));
        assert_eq!(smtp.expect("builds").delivered(), MailStatus::Sent);
    }
}
