//! What an API token may reach: scopes per domain and verb, and which scope each GraphQL type
//! (to read) and each mutation (to write) needs. The one table of it; the README's partners
//! section lists the same, and a test checks that every type and mutation of the schema is in
//! it, so nothing new is reachable by a token by omission.

use crate::error::{AppError, AppResult};
use crate::vocabulary::text_enum;

text_enum!(
    /// One domain and verb. A write scope grants the read of its domain too: a change answers
    /// with what it changed.
    pub enum Scope {
        LicensesRead => "licenses:read",
        LicensesWrite => "licenses:write",
        SeatsRead => "seats:read",
        SeatsWrite => "seats:write",
        MembersRead => "members:read",
        MembersWrite => "members:write",
        NodesRead => "nodes:read",
        NodesWrite => "nodes:write",
        InstancesRead => "instances:read",
        InstancesWrite => "instances:write",
        UsageRead => "usage:read",
        UsageWrite => "usage:write",
        PlansWrite => "plans:write",
        BillingRead => "billing:read",
        BillingWrite => "billing:write",
        AuditRead => "audit:read",
        WebhooksRead => "webhooks:read",
        WebhooksWrite => "webhooks:write",
        PlatformRead => "platform:read",
        PlatformWrite => "platform:write",
    }
);

impl Scope {
    /// The read scope a write scope carries with it.
    fn read_of(self) -> Option<Scope> {
        use Scope as S;
        Some(match self {
            S::LicensesWrite => S::LicensesRead,
            S::SeatsWrite => S::SeatsRead,
            S::MembersWrite => S::MembersRead,
            S::NodesWrite => S::NodesRead,
            S::InstancesWrite => S::InstancesRead,
            S::UsageWrite => S::UsageRead,
            S::BillingWrite => S::BillingRead,
            S::WebhooksWrite => S::WebhooksRead,
            S::PlatformWrite => S::PlatformRead,
            _ => return None,
        })
    }

    /// Scopes over the platform's own operation (pools, jobs, mail, the test clock): only an
    /// admin's token may carry them.
    pub fn admin_only(self) -> bool {
        matches!(self, Scope::PlatformRead | Scope::PlatformWrite)
    }

    fn bit(self) -> u32 {
        let position = Scope::ALL.iter().position(|s| *s == self).unwrap_or(0);
        1 << position
    }
}

/// A token's scopes, as a set (with the reads its writes carry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes(u32);

impl Scopes {
    /// Scope names as a client gives them (`licenses:read`); VALIDATION naming the first unknown
    /// one. At least one, none twice.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> AppResult<Self> {
        if names.is_empty() {
            return Err(AppError::validation("scopes", "name at least one scope"));
        }
        let mut set = Scopes::default();
        for name in names {
            let name = name.as_ref();
            let scope = Scope::parse(name).ok_or_else(|| {
                AppError::validation(
                    "scopes",
                    format!(
                        "unknown scope `{}`; see the scopes table",
                        name.chars().take(40).collect::<String>()
                    ),
                )
            })?;
            set.0 |= scope.bit();
        }
        Ok(set)
    }

    /// The stored form: scope names separated by spaces, in the table's order.
    pub fn to_stored(self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored form back; an unknown name is an internal error, never ignored.
    pub fn from_stored(stored: &str) -> AppResult<Self> {
        let mut set = Scopes::default();
        for name in stored.split_whitespace() {
            set.0 |= Scope::from_stored(name)?.bit();
        }
        Ok(set)
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.members().map(Scope::as_str)
    }

    pub fn members(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(move |s| self.0 & s.bit() != 0)
    }

    pub fn grants(self, needed: Scope) -> bool {
        self.members()
            .any(|held| held == needed || held.read_of() == Some(needed))
    }
}

/// What a token needs for one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: anyone may read it (the plan catalogue, page info, wrappers whose fields are
    /// checked on their own).
    Nothing,
    Scope(Scope),
    /// Only a person may: signing in, passwords, sessions, accepting an invitation, tokens.
    Person,
}

/// What a token needs to be answered a value of a GraphQL type; a connection or edge needs what
/// its node needs. `None` for a type not in the table, which a token is refused (and a test
/// names).
pub fn read_need(type_name: &str) -> Option<Need> {
    use Scope as S;
    let base = type_name
        .strip_suffix("Connection")
        .or_else(|| type_name.strip_suffix("Edge"))
        .unwrap_or(type_name);
    let scope = match base {
        "License"
        | "LicenseEvent"
        | "LicenseStatus"
        | "ValidationResult"
        | "ValidationSignature" => S::LicensesRead,
        "Assignment" | "AssignmentEvent" | "ReleasedSurplus" => S::SeatsRead,
        "User" | "Invitation" | "DeveloperEvent" => S::MembersRead,
        "RuntimeNode" | "RuntimeNodeEvent" | "CheckInResult" | "LicenseFile" => S::NodesRead,
        "Instance"
        | "InstanceEvent"
        | "InstanceLog"
        | "InstanceToken"
        | "CreatedInstanceToken"
        | "InstanceQuotaAlert" => S::InstancesRead,
        "UsageEvent" | "UsageMetric" | "UsagePoint" | "CurrentUsage" | "Entitlement"
        | "Entitlements" | "FeatureAccess" | "RecordUsagePayload" => S::UsageRead,
        "BillingSubscription"
        | "Invoice"
        | "InvoiceLine"
        | "Transaction"
        | "WebhookEvent"
        | "RevenuePeriod"
        | "SubscriptionMetrics"
        | "CreditBalance"
        | "CreditEntry"
        | "HostedSession" => S::BillingRead,
        "AuditEvent" => S::AuditRead,
        "WebhookEndpoint" | "WebhookEndpointWithSecret" | "WebhookDelivery" | "WebhookAttempt" => {
            S::WebhooksRead
        }
        "DatabasePool" | "PoolEvent" | "SchedulerJob" | "JobRun" | "Mail" | "TestClockAdvance" => {
            S::PlatformRead
        }
        "QueryRoot" | "MutationRoot" | "SubscriptionRoot" | "PageInfo" | "Plan" | "PlanPrice"
        | "PlanChange" | "MoneyAmount" | "LicenseKeyPayload" | "LicenseSigningKey" => {
            return Some(Need::Nothing);
        }
        "SignupPayload" | "AuthPayload" | "ApiToken" | "CreatedApiToken" => {
            return Some(Need::Person);
        }
        _ => return None,
    };
    Some(Need::Scope(scope))
}

/// What a token needs to call a mutation. `None` for one not in the table, which a token is
/// refused (and a test names).
pub fn write_need(mutation: &str) -> Option<Need> {
    use Scope as S;
    let scope = match mutation {
        "createLicense"
        | "updateLicense"
        | "regenerateLicenseKey"
        | "changeLicenseState"
        | "suspendLicense"
        | "reinstateLicense"
        | "revokeLicense"
        | "renewLicense"
        | "changePlan" => S::LicensesWrite,
        "assignSeat" | "unassignSeat" | "revokeSeat" => S::SeatsWrite,
        "inviteMember" | "revokeInvitation" | "removeMember" => S::MembersWrite,
        "activateRuntimeNode"
        | "checkIn"
        | "deactivateRuntimeNode"
        | "replaceRuntimeNode"
        | "checkoutLicenseFile" => S::NodesWrite,
        "createInstance"
        | "markInstanceRunning"
        | "suspendInstance"
        | "resumeInstance"
        | "failInstance"
        | "completeProvisioning"
        | "deleteInstance"
        | "createInstanceToken"
        | "revokeInstanceToken"
        | "appendInstanceLogs" => S::InstancesWrite,
        "recordUsage" | "defineUsageMetric" => S::UsageWrite,
        "createPlan"
        | "updatePlan"
        | "retirePlan"
        | "setEntitlementOverride"
        | "removeEntitlementOverride" => S::PlansWrite,
        "createCheckoutSession"
        | "createBillingPortalSession"
        | "cancelSubscription"
        | "resumeSubscription"
        | "retryFailedWebhook"
        | "discardFailedWebhook"
        | "spendCredits"
        | "addCredits" => S::BillingWrite,
        "createWebhookEndpoint"
        | "updateWebhookEndpoint"
        | "deleteWebhookEndpoint"
        | "rotateWebhookSecret"
        | "resendWebhook"
        | "testWebhookEndpoint" => S::WebhooksWrite,
        "createDatabasePool" | "updateDatabasePool" | "advanceTestClock" => S::PlatformWrite,
        "signup"
        | "login"
        | "verifyEmail"
        | "requestEmailVerification"
        | "requestPasswordReset"
        | "resetPassword"
        | "changePassword"
        | "acceptInvitation"
        | "refreshToken"
        | "logout"
        | "logoutEverywhere"
        | "createApiToken"
        | "revokeApiToken" => return Some(Need::Person),
        _ => return None,
    };
    Some(Need::Scope(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_store_and_grant_the_reads_of_their_writes() {
        let set = Scopes::parse(&["seats:write", "licenses:read"]).expect("known");
        assert_eq!(set.to_stored(), "licenses:read seats:write");
        assert_eq!(Scopes::from_stored(&set.to_stored()).expect("stored"), set);
        assert!(set.grants(Scope::LicensesRead));
        assert!(set.grants(Scope::SeatsRead));
        assert!(set.grants(Scope::SeatsWrite));
        assert!(!set.grants(Scope::LicensesWrite));
        assert!(!set.grants(Scope::AuditRead));
        assert!(Scopes::parse(&["licenses:admin"]).is_err());
        assert!(Scopes::parse::<&str>(&[]).is_err());
        assert!(Scope::ALL.len() <= 32, "a scope set is one u32");
    }
}
