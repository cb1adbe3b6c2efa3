//! Where a webhook may go. An endpoint's URL is the caller's to choose, and the gateway posts to
//! it from inside the network it runs in, so an address on that network (loopback, private,
//! link-local ...) would let a caller reach services that trust the gateway. Such addresses are
//! refused at registration and again at every delivery, since what a name resolves to can
//! change; and the addresses a delivery connects to are the ones checked (the client resolves
//! names through `CheckedResolver`), so a name cannot pass the check and then resolve elsewhere.
//! `WEBHOOK_ALLOW_PRIVATE_TARGETS` lifts the rule (tests, and receivers on the same network).

use crate::error::AppError;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest URL taken.
pub const MAX_URL_CHARS: usize = 2048;

/// Why a target is refused, in words safe to store and show.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not an http(s) URL with a host, or too long, or carrying credentials.
    Malformed(&'static str),
    /// The name does not resolve.
    Unresolved,
    /// It resolves to an address on a network the gateway may not post to.
    Private,
}

impl Refused {
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::Malformed(why) => why,
            Refused::Unresolved => "the host does not resolve",
            Refused::Private => {
                "the host resolves to a loopback, private, link-local or otherwise internal address"
            }
        }
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> Self {
        AppError::validation("url", refused.reason())
    }
}

/// The URL's form: http or https, a host, no credentials, no fragment, at most 2048 characters.
pub fn parse(raw: &str) -> Result<Url, Refused> {
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().count() > MAX_URL_CHARS {
        return Err(Refused::Malformed("must be 1 to 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|_| Refused::Malformed("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Malformed("must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Refused::Malformed("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Malformed(
            "may not carry credentials: the signature authenticates the gateway",
        ));
    }
    if url.fragment().is_some() {
        return Err(Refused::Malformed("may not have a #fragment"));
    }
    Ok(url)
}

/// The URL's form and every address its host resolves to, now.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, Refused> {
    let url = parse(raw)?;
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| Refused::Unresolved)?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(Refused::Unresolved);
    }
    if !allow_private && addresses.iter().any(|a| internal(a.ip())) {
        return Err(Refused::Private);
    }
    Ok(url)
}

/// Whether `ip` is on a network a webhook may not reach: loopback, private (RFC 1918, unique
/// local), link-local, unspecified, multicast, broadcast, shared (carrier NAT), or an IPv4
/// one of those written as IPv6.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// The delivery client's resolver: the system's, with internal addresses taken out (unless
/// allowed), so the client connects only to addresses that passed the rule.
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || !internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Refused::Private.reason().into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "172.32.0.1"] {
            assert!(!internal(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(parse("https://hooks.example.com/in?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://user:pass@example.com/",
            "not a url",
            "https://example.com/#frag",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(parse(&long).is_err());
    }

    #[tokio::test]
    async fn literal_internal_addresses_are_refused_unless_allowed() {
        assert_eq!(
            check("http://127.0.0.1:9/", false).await.err(),
            Some(Refused::Private)
        );
        assert_eq!(
            check("http://[::1]:9/", false).await.err(),
            Some(Refused::Private)
        );
        assert!(check("http://127.0.0.1:9/", true).await.is_ok());
        assert!(check("http://93.184.216.34/", false).await.is_ok());
    }
}
