pub use super::audit_events::Entity as AuditEvents;
pub use super::licenses::Entity as Licenses;
pub use super::plan_entitlements::Entity as PlanEntitlements;
pub use super::plans::Entity as Plans;
pub use super::trials::Entity as Trials;
pub use super::users::Entity as Users;
