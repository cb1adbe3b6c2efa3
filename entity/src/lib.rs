pub mod prelude;

pub mod audit_events;
pub mod licenses;
pub mod plan_entitlements;
pub mod plans;
pub mod trials;
pub mod users;
