//! The instance state machine, as data. Deleted is terminal.

use super::model::InstanceStatus::{self, *};
use crate::error::AppResult;
use crate::vocabulary::{Transitions, check_move};

/// (from, the statuses it may move to).
const ALLOWED: &Transitions<InstanceStatus> = &[
    (Provisioning, &[Running, Error, Deleting, Deleted]),
    (WaitingForCapacity, &[Provisioning, Error, Deleted]),
    (Running, &[Suspended, Error, Deleting, Deleted]),
    (Suspended, &[Running, Error, Deleting, Deleted]),
    (Error, &[Provisioning, Running, Deleting, Deleted]),
    (Deleting, &[Deleted]),
    (Deleted, &[]),
];

pub fn check(from: InstanceStatus, to: InstanceStatus) -> AppResult<()> {
    check_move(ALLOWED, from, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    #[test]
    fn every_pair_follows_the_table() {
        let mut allowed = 0;
        for from in InstanceStatus::ALL {
            for to in InstanceStatus::ALL {
                match check(*from, *to) {
                    Ok(()) => allowed += 1,
                    Err(AppError::InvalidTransition { from: f, to: t }) => {
                        assert_eq!((f.as_str(), t.as_str()), (from.as_str(), to.as_str()));
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(allowed, ALLOWED.iter().map(|(_, t)| t.len()).sum::<usize>());
        assert_eq!(
            ALLOWED.len(),
            InstanceStatus::ALL.len(),
            "every status has a row"
        );
        assert!(check(Deleted, Running).is_err());
        assert!(check(Running, Running).is_err());
    }
}
