//! A developer's team: members join by a mailed, single-use invitation, sign in with `login`,
//! see their own account and the licenses they hold a seat on, and are removed with their
//! seats and sessions.
//! - `model.rs`: where an invitation stands.
//! - `invitations.rs`: inviting (bounded by the plan's `max_team_members`), accepting,
//!   revoking, listing.
//! - `team.rs`: listing and removing members.
//! - `schema.rs`: the `Invitation` type, `members`, `invitations`, `inviteMember`,
//!   `acceptInvitation`, `revokeInvitation`, `removeMember`.
//! - `loaders.rs`: invitations by id.

pub mod invitations;
pub mod loaders;
pub mod model;
pub mod schema;
pub mod team;
