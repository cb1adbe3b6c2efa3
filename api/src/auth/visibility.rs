//! Who may see what. Every GraphQL object type names the audience of the row it shows, and
//! this one rule decides, from the request's actor, whether it is shown: admins see everything;
//! a developer its own; a team member its own account and the licenses it holds a seat on; a
//! license key its license; an instance token its instance. Reaching a type by another path
//! can never show more than reaching it directly, because every path asks the same question.

use super::{Actor, Caller, Role};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The plan catalogue.
    Everyone,
    /// Operator data (database pools).
    Admins,
    /// A developer's own data (its entitlements, its usage).
    Developer(Uuid),
    /// A license and what hangs off it (seats, its events): its developer and the members
    /// holding a seat on it.
    License { id: Uuid, developer: Uuid },
    /// What a license's runtime works with (its standing, its nodes): the license's audience
    /// and the bearer of its key.
    Runtime { license: Uuid, developer: Uuid },
    /// An instance and its tokens and logs: its developer and the instance's own tokens.
    Instance { id: Uuid, developer: Uuid },
    /// An account: itself, and for a team member the developer whose team it is in.
    Account { id: Uuid, developer: Option<Uuid> },
    /// A record about something a developer owns (an audit event); none: the platform's.
    OwnedBy(Option<Uuid>),
}

impl Actor {
    pub fn may_see(&self, audience: Audience) -> bool {
        may_see(&self.caller, &self.seats, audience)
    }
}

/// The rule itself: `seats` are the licenses a team member holds a seat on.
fn may_see(caller: &Caller, seats: &[Uuid], audience: Audience) -> bool {
    use Audience as A;
    if caller.is_admin() {
        return true;
    }
    let developer = match caller {
        Caller::User {
            id,
            role: Role::Developer,
        } => Some(*id),
        _ => None,
    };
    match audience {
        A::Everyone => true,
        A::Admins | A::OwnedBy(None) => false,
        A::Developer(owner) | A::OwnedBy(Some(owner)) => developer == Some(owner),
        A::License {
            id,
            developer: owner,
        } => developer == Some(owner) || (caller.is_member() && seats.contains(&id)),
        A::Runtime {
            license,
            developer: owner,
        } => {
            let license_audience = A::License {
                id: license,
                developer: owner,
            };
            may_see(caller, seats, license_audience)
                || matches!(caller, Caller::LicenseKey { license_id } if *license_id == license)
        }
        A::Instance {
            id,
            developer: owner,
        } => {
            developer == Some(owner)
                || matches!(caller, Caller::InstanceToken { instance_id } if *instance_id == id)
        }
        A::Account {
            id,
            developer: team,
        } => {
            matches!(caller, Caller::User { id: me, .. } if *me == id)
                || (team.is_some() && team == developer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Viewer(Caller, Vec<Uuid>);

    impl Viewer {
        fn may_see(&self, audience: Audience) -> bool {
            may_see(&self.0, &self.1, audience)
        }
    }

    fn actor(caller: Caller, seats: Vec<Uuid>) -> Viewer {
        Viewer(caller, seats)
    }

    #[test]
    fn each_caller_sees_its_own_and_no_one_elses() {
        let (dev, other, member, license, instance) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let developer = actor(
            Caller::User {
                id: dev,
                role: Role::Developer,
            },
            vec![],
        );
        let own = Audience::License {
            id: license,
            developer: dev,
        };
        let theirs = Audience::License {
            id: license,
            developer: other,
        };
        assert!(developer.may_see(own));
        assert!(!developer.may_see(theirs));
        assert!(!developer.may_see(Audience::Admins));
        assert!(developer.may_see(Audience::Account {
            id: member,
            developer: Some(dev)
        }));
        assert!(!developer.may_see(Audience::Account {
            id: other,
            developer: None
        }));
        assert!(!developer.may_see(Audience::OwnedBy(None)));

        let seat_holder = actor(
            Caller::User {
                id: member,
                role: Role::Member,
            },
            vec![license],
        );
        assert!(seat_holder.may_see(theirs), "a seat shows its license");
        assert!(!seat_holder.may_see(Audience::License {
            id: Uuid::now_v7(),
            developer: other
        }));
        assert!(!seat_holder.may_see(Audience::Developer(other)));
        assert!(seat_holder.may_see(Audience::Account {
            id: member,
            developer: Some(other)
        }));

        let key = actor(
            Caller::LicenseKey {
                license_id: license,
            },
            vec![],
        );
        assert!(
            !key.may_see(theirs),
            "a key shows its runtime's view, not the license"
        );
        let runtime = |license| Audience::Runtime {
            license,
            developer: other,
        };
        assert!(key.may_see(runtime(license)));
        assert!(!key.may_see(runtime(Uuid::now_v7())));
        assert!(seat_holder.may_see(runtime(license)));
        assert!(!key.may_see(Audience::Account {
            id: other,
            developer: None
        }));
        let token = actor(
            Caller::InstanceToken {
                instance_id: instance,
            },
            vec![],
        );
        assert!(token.may_see(Audience::Instance {
            id: instance,
            developer: other
        }));
        assert!(!token.may_see(Audience::Instance {
            id: Uuid::now_v7(),
            developer: other
        }));
        let stranger = actor(Caller::Anonymous, vec![]);
        assert!(stranger.may_see(Audience::Everyone));
        assert!(!stranger.may_see(own));
        let admin = actor(
            Caller::User {
                id: other,
                role: Role::Admin,
            },
            vec![],
        );
        assert!(admin.may_see(Audience::Admins) && admin.may_see(own));
    }
}
