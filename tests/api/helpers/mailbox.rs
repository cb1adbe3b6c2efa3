//! A gateway whose mail goes to a loopback SMTP receiver, and following the links it mails, as
//! the flows' recipients would.

use super::server::{TestApp, spawn_app_with};
use super::smtp::SmtpReceiver;
use std::time::Duration;

/// Where mailed links point in these tests.
pub const MAIL_PUBLIC_URL: &str = "https://licensing.example.com";

/// A gateway delivering its mail to a fresh receiver, looking for due mail every second.
pub async fn app_with_mailbox() -> (SmtpReceiver, TestApp) {
    let receiver = SmtpReceiver::start().await;
    let smtp = receiver.url();
    let app = spawn_app_with(&[
        ("SMTP_URL", &smtp),
        ("PUBLIC_URL", MAIL_PUBLIC_URL),
        ("MAIL_POLL_SECONDS", "1"),
    ])
    .await;
    (receiver, app)
}

/// The token carried by the link to `path` in the next such mail to `to` (other mail, such as
/// a developer's own verification, is passed over).
pub async fn mailed_token(receiver: &SmtpReceiver, to: &str, path: &str) -> String {
    let prefix = format!("{MAIL_PUBLIC_URL}{path}?token=");
    loop {
        let mail = receiver.next_mail(Duration::from_secs(20)).await;
        if mail.recipients != [to] {
            continue;
        }
        if let Some(link) = mail.link(&prefix) {
            return link.split_once("?token=").expect("token").1.to_owned();
        }
    }
}
