//! A TCP proxy between a gateway and PostgreSQL that a test can cut and restore, to play a
//! database outage without stopping the server every other test shares.

use super::database::fresh_database;
use super::server::{TestApp, spawn_app_on};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// Forwards every byte both ways.
    Up,
    /// Drops every connection, new ones as soon as they arrive: a server restarting.
    Refusing,
    /// Drops the open connections and holds new ones without a byte of answer: a host that
    /// is gone.
    Silent,
}

/// A proxy on a loopback port, forwarding to `upstream` until told otherwise; it stops with
/// the test's runtime.
pub struct DbProxy {
    pub port: u16,
    /// The test's database, reached directly, to read what was written.
    pub database_url: String,
    link: watch::Sender<Link>,
}

/// The server on a fresh PostgreSQL database that it reaches through a proxy the test holds.
pub async fn spawn_app_behind_proxy(overrides: &[(&str, &str)]) -> (TestApp, DbProxy) {
    let (database_url, db) = fresh_database().await;
    let (_, upstream) = through_proxy(&database_url, 0);
    let mut proxy = DbProxy::start(upstream).await;
    let (proxied, _) = through_proxy(&database_url, proxy.port);
    proxy.database_url = database_url;
    (spawn_app_on(proxied, db, overrides).await, proxy)
}

impl DbProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (link, _) = watch::channel(Link::Up);
        let links = link.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), links.subscribe()));
            }
        });
        Self {
            port,
            database_url: String::new(),
            link,
        }
    }

    /// Drops every connection and refuses new ones, as a restarting server does.
    pub fn cut(&self) {
        self.link.send_replace(Link::Refusing);
    }

    /// Drops every connection and leaves new ones unanswered, as a vanished host does.
    pub fn silence(&self) {
        self.link.send_replace(Link::Silent);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.link.send_replace(Link::Up);
    }
}

async fn serve(mut client: TcpStream, upstream: String, mut link: watch::Receiver<Link>) {
    let now = *link.borrow_and_update();
    match now {
        Link::Refusing => return,
        Link::Silent => {
            // Held open until the link changes, then dropped: it never was a connection.
            let _ = link.changed().await;
            return;
        }
        Link::Up => {}
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = link.wait_for(|l| *l != Link::Up) => {}
    }
}

/// `url` with its `host:port` replaced by the proxy's, and the `host:port` it named.
pub fn through_proxy(url: &str, proxy_port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, address) = match authority.rsplit_once('@') {
        Some((user, address)) => (format!("{user}@"), address),
        None => (String::new(), authority),
    };
    let upstream = if address.contains(':') {
        address.to_owned()
    } else {
        format!("{address}:5432")
    };
    let proxied = format!("{scheme}://{user}127.0.0.1:{proxy_port}{path}");
    (proxied, upstream)
}

#[cfg(test)]
mod tests {
    use super::through_proxy;

    #[test]
    fn the_url_keeps_everything_but_the_address() {
        assert_eq!(
            through_proxy(
                "postgres://postgres@127.0.0.1:5432/test_1?sslmode=disable",
                9
            ),
            (
                "postgres://postgres@127.0.0.1:9/test_1?sslmode=disable".into(),
                "127.0.0.1:5432".into()
            )
        );
        assert_eq!(
            through_proxy("postgres://db.internal/x", 9),
            ("postgres://127.0.0.1:9/x".into(), "db.internal:5432".into())
        );
    }
}
