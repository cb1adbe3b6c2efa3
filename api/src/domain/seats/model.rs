//! The seat vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    // Whether a seat is held (or waits on an invitation), or how it was given back.
    pub enum AssignmentStatus {
        Active => "active",
        Pending => "pending",
        Unassigned => "unassigned",
        Revoked => "revoked",
    }
);
