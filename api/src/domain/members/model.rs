//! The invitation vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    /// Where a stored invitation stands. An open one past its expiry is shown as `EXPIRED`
    /// (see `InvitationState`); inviting the address again renews it.
    pub enum InvitationStatus {
        Pending => "pending",
        Accepted => "accepted",
        Revoked => "revoked",
    }
);

/// An invitation as clients see it: open, answered, withdrawn, or past its expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}
