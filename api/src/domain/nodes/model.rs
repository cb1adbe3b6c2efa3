//! The runtime node vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    // Whether a node still holds its registration; an active node past its deadline is dead.
    pub enum NodeStatus {
        Active => "active",
        Deactivated => "deactivated",
    }
);
