//! The database pool vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    /// Whether a pool takes new databases: only active pools do.
    pub enum PoolStatus {
        Active => "active",
        Draining => "draining",
        Offline => "offline",
    }
);
