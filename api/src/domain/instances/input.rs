//! Instance inputs: subdomains (lower-case DNS labels, with names the platform keeps for itself
//! refused), regions and database hosts.

use crate::error::{AppError, AppResult};

const RESERVED: &[&str] = &[
    "admin",
    "api",
    "app",
    "auth",
    "billing",
    "cdn",
    "dashboard",
    "docs",
    "ftp",
    "graphql",
    "help",
    "login",
    "mail",
    "root",
    "static",
    "status",
    "support",
    "www",
];

/// A region names where databases live, like `eu` or `us-east-1`: lower-cased, 1 to 32
/// letters, digits or hyphens.
pub fn region(raw: &str) -> AppResult<String> {
    let region = raw.trim().to_lowercase();
    let valid = (1..=32).contains(&region.len())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(AppError::validation(
            "region",
            "1 to 32 letters, digits or hyphens",
        ));
    }
    Ok(region)
}

/// A database server's host name: lower-cased, 1 to 253 characters of a DNS name.
pub fn host(raw: &str) -> AppResult<String> {
    let host = raw.trim().to_lowercase();
    let valid = (1..=253).contains(&host.len())
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
    if !valid {
        return Err(AppError::validation(
            "host",
            "a host name: 1 to 253 letters, digits, dots or hyphens",
        ));
    }
    Ok(host)
}

pub fn subdomain(raw: &str) -> AppResult<String> {
    let label = raw.trim().to_owned();
    let valid_chars = label
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=63).contains(&label.len())
        || !valid_chars
        || label.starts_with('-')
        || label.ends_with('-')
    {
        return Err(AppError::validation(
            "subdomain",
            "3 to 63 lower-case letters, digits or inner hyphens",
        ));
    }
    if RESERVED.contains(&label.as_str()) {
        return Err(AppError::validation("subdomain", "this name is reserved"));
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::{host, region, subdomain};

    #[test]
    fn regions_and_hosts_are_short_plain_names() {
        assert_eq!(region(" EU ").expect("ok"), "eu");
        assert_eq!(host("DB-1.Internal").expect("ok"), "db-1.internal");
        for bad in ["", "eu west", &"x".repeat(33), "🦀"] {
            assert!(region(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "db 1", &"x".repeat(254), "🦀.internal"] {
            assert!(host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subdomains_are_dns_labels_and_not_reserved() {
        assert_eq!(subdomain("acme-dental").expect("ok"), "acme-dental");
        for bad in [
            "ab",
            "Acme",
            "-acme",
            "acme-",
            "acme_dental",
            "www",
            "api",
            &"a".repeat(64),
        ] {
            assert!(subdomain(bad).is_err(), "{bad}");
        }
    }
}
