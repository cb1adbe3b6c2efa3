//! Input rules for accounts; each failure names its field.

use crate::error::{AppError, AppResult};

const MIN_PASSWORD: usize = 10;
const MAX_PASSWORD: usize = 128;

/// A lower-cased, trimmed address with one `@`, a non-empty local part and a dotted domain.
pub fn email(raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::validation("email", "not a valid email address");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || !labels_ok
    {
        return Err(invalid());
    }
    Ok(email)
}

pub fn name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// At least 10 characters, mixing letters with something else.
pub fn password(raw: &str) -> AppResult<()> {
    let length = raw.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(AppError::validation(
            "password",
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    let has_letter = raw.chars().any(char::is_alphabetic);
    let has_other = raw.chars().any(|c| !c.is_alphabetic());
    if !has_letter || !has_other {
        return Err(AppError::validation(
            "password",
            "must mix letters with digits or symbols",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email("  Ada@Example.COM ").expect("valid"),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@-x.com",
        ] {
            assert!(email(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(password("short1").is_err());
        assert!(password("onlyletterspassword").is_err());
        assert!(password("1234567890123").is_err());
        assert!(password("letters and 1 digit").is_ok());
    }
}
