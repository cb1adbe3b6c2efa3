//! The instance state machine, as data. Deleted is terminal.

use crate::error::{AppError, AppResult};

const ALLOWED: &[(&str, &[&str])] = &[
    ("provisioning", &["running", "error", "deleting", "deleted"]),
    (
        "waiting_for_capacity",
        &["provisioning", "error", "deleted"],
    ),
    ("running", &["suspended", "error", "deleting", "deleted"]),
    ("suspended", &["running", "error", "deleting", "deleted"]),
    ("error", &["provisioning", "running", "deleting", "deleted"]),
    ("deleting", &["deleted"]),
    ("deleted", &[]),
];

pub fn check(from: &str, to: &str) -> AppResult<()> {
    let allowed = ALLOWED
        .iter()
        .find(|(state, _)| *state == from)
        .is_some_and(|(_, targets)| targets.contains(&to));
    if allowed {
        Ok(())
    } else {
        Err(AppError::InvalidTransition {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_follows_the_table() {
        let states: Vec<&str> = ALLOWED.iter().map(|(s, _)| *s).collect();
        let mut allowed = 0;
        for from in &states {
            for to in &states {
                if check(from, to).is_ok() {
                    allowed += 1;
                } else if let Err(AppError::InvalidTransition { from: f, to: t }) = check(from, to)
                {
                    assert_eq!((f.as_str(), t.as_str()), (*from, *to));
                }
            }
        }
        assert_eq!(allowed, ALLOWED.iter().map(|(_, t)| t.len()).sum::<usize>());
        assert!(check("deleted", "running").is_err());
        assert!(check("running", "running").is_err());
    }
}
