//! A mail server on a loopback port: enough SMTP (EHLO or HELO, MAIL FROM, RCPT TO, DATA, RSET,
//! NOOP, QUIT) to take mail from the gateway and keep it for the test, which can also have it
//! refuse recipients for a while (451, try again later) or take its time over each mail.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One mail as the server received it, decoded.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The name the client gave in EHLO or HELO.
    pub client: String,
    /// The envelope: `MAIL FROM` and each `RCPT TO`.
    pub sender: String,
    pub recipients: Vec<String>,
    /// Header names lower-cased, folded lines joined.
    pub headers: Vec<(String, String)>,
    /// The body after its transfer encoding is undone.
    pub body: String,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first link in the body that starts with `prefix`, whole.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.body.find(prefix)?;
        let link = self.body[start..]
            .split(|c: char| c.is_whitespace())
            .next()?;
        Some(link.to_owned())
    }
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<VecDeque<ReceivedMail>>,
    arrived: Notify,
    refusing: AtomicBool,
    refused: AtomicUsize,
    /// How long the server takes to accept each mail, in milliseconds.
    delay_millis: AtomicU64,
}

pub struct SmtpReceiver {
    pub port: u16,
    inbox: Arc<Inbox>,
}

impl SmtpReceiver {
    /// Listens on 127.0.0.1 on a free port until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(converse(socket, shared.clone()));
            }
        });
        Self { port, inbox }
    }

    /// `SMTP_URL` for a gateway sending here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// From now on answer every recipient 451 (or take them again).
    pub fn refuse(&self, refusing: bool) {
        self.inbox.refusing.store(refusing, Ordering::SeqCst);
    }

    /// From now on take `delay` over each mail before accepting it.
    pub fn take_time(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.inbox.delay_millis.store(millis, Ordering::SeqCst);
    }

    /// Recipients refused so far.
    pub fn refused(&self) -> usize {
        self.inbox.refused.load(Ordering::SeqCst)
    }

    /// Mail received and not yet taken by `next_mail`.
    pub fn waiting(&self) -> usize {
        self.inbox.mails.lock().expect("inbox").len()
    }

    /// The next mail received, waiting for it at most `within`.
    pub async fn next_mail(&self, within: Duration) -> ReceivedMail {
        tokio::time::timeout(within, async {
            loop {
                let arrived = self.inbox.arrived.notified();
                if let Some(mail) = self.inbox.mails.lock().expect("inbox").pop_front() {
                    return mail;
                }
                arrived.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no mail arrived within {within:?}"))
    }
}

/// One SMTP session.
async fn converse(socket: TcpStream, inbox: Arc<Inbox>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut reply = async |text: &str| write.write_all(format!("{text}\r\n").as_bytes()).await;
    if reply("220 127.0.0.1 test mail server").await.is_err() {
        return;
    }
    let (mut client, mut sender, mut recipients) = (String::new(), String::new(), Vec::new());
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_uppercase();
        let answer = match verb.as_str() {
            "EHLO" | "HELO" => {
                client = command
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                if verb == "EHLO" {
                    "250-127.0.0.1 greets you\r\n250 8BITMIME".to_owned()
                } else {
                    "250 127.0.0.1".to_owned()
                }
            }
            "NOOP" => "250 OK".to_owned(),
            "RSET" => {
                (sender, recipients) = (String::new(), Vec::new());
                "250 OK".to_owned()
            }
            "MAIL" => {
                sender = address(&command);
                "250 OK".to_owned()
            }
            "RCPT" if inbox.refusing.load(Ordering::SeqCst) => {
                inbox.refused.fetch_add(1, Ordering::SeqCst);
                "451 4.3.0 not now, try again later".to_owned()
            }
            "RCPT" => {
                recipients.push(address(&command));
                "250 OK".to_owned()
            }
            "DATA" if recipients.is_empty() => "503 no recipients".to_owned(),
            "DATA" => {
                if reply("354 go ahead").await.is_err() {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                let delay = inbox.delay_millis.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let mail = parse(
                    client.clone(),
                    std::mem::take(&mut sender),
                    std::mem::take(&mut recipients),
                    &data,
                );
                inbox.mails.lock().expect("inbox").push_back(mail);
                inbox.arrived.notify_waiters();
                "250 OK queued".to_owned()
            }
            "QUIT" => {
                let _ = reply("221 bye").await;
                return;
            }
            _ => "502 not implemented".to_owned(),
        };
        if reply(&answer).await.is_err() {
            return;
        }
    }
}

/// `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`: the address.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}

/// The message up to the line holding a single dot, dots unstuffed, lines ending in CRLF.
async fn read_data(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return Some(data);
        }
        data.push_str(text.strip_prefix('.').unwrap_or(text));
        data.push_str("\r\n");
    }
}

fn parse(client: String, sender: String, recipients: Vec<String>, data: &str) -> ReceivedMail {
    let (head, raw_body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        match headers.last_mut() {
            Some((_, value)) if line.starts_with([' ', '\t']) => {
                value.push(' ');
                value.push_str(line.trim());
            }
            _ => {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
                }
            }
        }
    }
    let encoding = headers
        .iter()
        .find(|(n, _)| n == "content-transfer-encoding")
        .map(|(_, v)| v.to_lowercase())
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "quoted-printable" => quoted_printable(raw_body),
        "base64" => {
            let compact: String = raw_body.split_whitespace().collect();
            let bytes = data_encoding::BASE64
                .decode(compact.as_bytes())
                .expect("a base64 body");
            String::from_utf8(bytes).expect("a UTF-8 body")
        }
        _ => raw_body.to_owned(),
    };
    ReceivedMail {
        client,
        sender,
        recipients,
        headers,
        body: body.replace("\r\n", "\n"),
    }
}

/// Undoes quoted-printable: `=XX` is a byte, `=` at a line's end joins it to the next.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}
