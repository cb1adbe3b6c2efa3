//! Subdomains: lower-case DNS labels, with names the platform keeps for itself refused.

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
    use super::subdomain;

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
