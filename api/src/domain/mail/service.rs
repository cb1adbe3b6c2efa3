//! Queueing mail inside a flow's unit of work, and the outbox as admins read it.

use super::model::{LINK, MailStatus, OutgoingMail, url_safe};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::events::{Event, UnitOfWork};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{mail_outbox, prelude::*};
use lettre::Address;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select, Set};
use secrecy::ExposeSecret;
use uuid::Uuid;

/// The event a unit of work publishes when it commits a queued mail: the delivery worker of
/// the process that committed it wakes at once.
pub const QUEUED: &str = "mail.queued";

/// Longest subject taken.
const MAX_SUBJECT_CHARS: usize = 200;

/// Longest body taken.
const MAX_BODY_CHARS: usize = 20_000;

/// Tokens shorter than this are too easy to guess; longer ones do not fit a link.
const TOKEN_CHARS: std::ops::RangeInclusive<usize> = 16..=256;

/// Writes `mail` to the outbox in the caller's transaction: it goes out if and only if the
/// unit of work commits, and the worker of this process is woken when it does. The recipient
/// must be an address mail can be sent to (VALIDATION on `email`); a mail that breaks the
/// rules on its text, link or token is a fault of the flow (INTERNAL), and no message about
/// it carries the token. Answers the mail's id.
#[tracing::instrument(skip_all, fields(kind = mail.kind.as_str()))]
pub async fn queue(uow: &mut UnitOfWork<'_>, mail: OutgoingMail) -> AppResult<Uuid> {
    let actor = uow.actor();
    let recipient = mail.to.trim().to_owned();
    check(&mail, &recipient)?;
    let (link, link_token) = match &mail.link {
        Some(link) => (
            Some(format!("{}{}", actor.app.config.mail.public_url, link.path)),
            Some(link.token.expose_secret().to_owned()),
        ),
        None => (None, None),
    };
    let id = Uuid::now_v7();
    mail_outbox::ActiveModel {
        id: Set(id),
        kind: Set(mail.kind.as_str().to_owned()),
        recipient: Set(recipient),
        subject: Set(mail.subject),
        body_text: Set(mail.body),
        link: Set(link),
        link_token: Set(link_token),
        status: Set(MailStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(actor.now.into()),
        last_error: Set(None),
        created_at: Set(actor.now.into()),
        sent_at: Set(None),
    }
    .insert(&**uow)
    .await?;
    // No audit row of its own: the change that sends it is the one recorded.
    uow.publish(Event {
        kind: QUEUED.to_owned(),
        entity_id: id,
        developer_id: None,
        data: serde_json::Value::Null,
    });
    Ok(id)
}

/// The rules a mail meets before it is stored.
fn check(mail: &OutgoingMail, recipient: &str) -> AppResult<()> {
    if recipient.parse::<Address>().is_err() || recipient.contains('\0') {
        return Err(AppError::validation(
            "email",
            "not an address mail can be sent to",
        ));
    }
    let fault = |what: &str| AppError::internal(anyhow::anyhow!("mail not queued: {what}"));
    let subject = &mail.subject;
    if subject.trim().is_empty()
        || subject.chars().count() > MAX_SUBJECT_CHARS
        || subject.chars().any(char::is_control)
    {
        return Err(fault("the subject must be one line of 1 to 200 characters"));
    }
    if mail.body.contains('\0') || mail.body.chars().count() > MAX_BODY_CHARS {
        return Err(fault("the body must be text of at most 20000 characters"));
    }
    let placeholders = mail.body.matches(LINK).count();
    match &mail.link {
        None if placeholders > 0 => Err(fault("the body has {link} but the mail has no link")),
        None => Ok(()),
        Some(_) if placeholders != 1 => Err(fault("the body must hold {link} exactly once")),
        Some(link) => {
            let path_ok = link.path.starts_with('/')
                && link.path.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~')
                });
            if !path_ok {
                return Err(fault(
                    "the link's path must start with / and hold no query or other characters",
                ));
            }
            let token = link.token.expose_secret();
            if !TOKEN_CHARS.contains(&token.len()) || !url_safe(&link.token) {
                return Err(fault(
                    "the link's token must be 16 to 256 URL-safe characters",
                ));
            }
            if mail.body.contains(token) || mail.subject.contains(token) {
                return Err(fault(
                    "the token may only go out in the link, never in the text",
                ));
            }
            Ok(())
        }
    }
}

fn matching(actor: &Actor, status: Option<MailStatus>) -> AppResult<Select<MailOutbox>> {
    actor.require_admin()?;
    let query = MailOutbox::find();
    Ok(match status {
        Some(status) => query.filter(mail_outbox::Column::Status.eq(status.as_str())),
        None => query,
    })
}

/// One page of the outbox, newest first, optionally of one status. Admins only.
pub async fn page(
    actor: &Actor,
    status: Option<MailStatus>,
    page: &PageArgs,
) -> AppResult<Page<mail_outbox::Model>> {
    let mut query = matching(actor, status)?.order_by_desc(mail_outbox::Column::Id);
    if let Some(after) = page.after_id() {
        query = query.filter(mail_outbox::Column::Id.lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count(actor: &Actor, status: Option<MailStatus>) -> AppResult<Count> {
    total_count::count(&actor.app, matching(actor, status)?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mail::model::MailKind;
    use crate::error::Code;
    use secrecy::SecretString;

    const TOKEN: &str = "tok_0123456789abcdefABCDEF";

    fn reset(body: &str) -> OutgoingMail {
        OutgoingMail::new(
            MailKind::PasswordReset,
            "ada@example.com",
            "Reset your password",
            body,
        )
        .with_link("/reset-password", SecretString::from(TOKEN))
    }

    fn code(mail: &OutgoingMail) -> Option<Code> {
        check(mail, mail.to.trim()).err().map(|e| e.code())
    }

    #[test]
    fn a_mail_with_its_link_in_place_is_taken() {
        assert_eq!(code(&reset("Follow {link} to choose a new one.")), None);
        let plain = OutgoingMail::new(MailKind::Invitation, "bo@example.com", "Hello", "Hi.");
        assert_eq!(code(&plain), None);
    }

    #[test]
    fn a_bad_recipient_is_validation_and_a_bad_mail_is_the_flows_fault() {
        let mut to_nobody = reset("{link}");
        to_nobody.to = "not an address".into();
        assert_eq!(code(&to_nobody), Some(Code::Validation));
        assert_eq!(code(&reset("no placeholder")), Some(Code::Internal));
        assert_eq!(code(&reset("{link} twice {link}")), Some(Code::Internal));
        let leaky = reset(&format!("{{link}} or paste {TOKEN}"));
        assert_eq!(code(&leaky), Some(Code::Internal));
        let mut two_lines = reset("{link}");
        two_lines.subject = "Reset\r\nBcc: someone@example.com".into();
        assert_eq!(code(&two_lines), Some(Code::Internal));
        let short = OutgoingMail::new(MailKind::EmailVerification, "a@example.com", "Hi", "{link}")
            .with_link("/verify-email", SecretString::from("short"));
        assert_eq!(code(&short), Some(Code::Internal));
        let query = OutgoingMail::new(MailKind::EmailVerification, "a@example.com", "Hi", "{link}")
            .with_link("/verify?x=1", SecretString::from(TOKEN));
        assert_eq!(code(&query), Some(Code::Internal));
    }

    #[test]
    fn faults_never_name_the_token() {
        let leaky = reset(&format!("{{link}} {TOKEN}"));
        let err = check(&leaky, "ada@example.com").expect_err("refused");
        assert!(!format!("{err:?}").contains(TOKEN));
    }
}
