//! The seat vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    // Whether a seat is held, or how it was given back.
    pub enum AssignmentStatus {
        Active => "active",
        Unassigned => "unassigned",
        Revoked => "revoked",
    }
);
