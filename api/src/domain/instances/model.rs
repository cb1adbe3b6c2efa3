//! The instance vocabulary.

use crate::vocabulary::text_enum;

text_enum!(
    /// Where an instance is in its life (the state machine is in `transitions.rs`).
    pub enum InstanceStatus {
        Provisioning => "provisioning",
        WaitingForCapacity => "waiting_for_capacity",
        Running => "running",
        Suspended => "suspended",
        Error => "error",
        Deleting => "deleting",
        Deleted => "deleted",
    }
);

impl InstanceStatus {
    /// Counts against its developer's instance limit.
    pub const LIVE: &'static [InstanceStatus] = &[
        Self::Provisioning,
        Self::WaitingForCapacity,
        Self::Running,
        Self::Suspended,
        Self::Error,
    ];

    /// A shared instance in this status holds a pool slot.
    pub fn holds_slot(self) -> bool {
        matches!(
            self,
            Self::Provisioning | Self::Running | Self::Suspended | Self::Error
        )
    }

    /// The stored texts of `statuses`, for an `IN (...)` filter.
    pub fn texts(statuses: &[Self]) -> impl Iterator<Item = &'static str> + '_ {
        statuses.iter().map(|s| s.as_str())
    }
}
