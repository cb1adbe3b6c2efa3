//! The jobs. Each answers how many rows it moved; each is safe to run again at once and from
//! two gateways at a time (every change it makes is written only if still due).

use super::retention;
use crate::auth::Actor;
use crate::domain::billing::webhooks;
use crate::domain::credits::service as credits;
use crate::domain::licenses::time_rules;
use crate::domain::nodes::time_rules as node_rules;
use crate::domain::pools::placement;
use crate::error::AppResult;
use crate::vocabulary::text_enum;
use std::time::Duration;

text_enum!(
    /// A scheduled job, by the name its row and `schedulerJobs` know it by.
    pub enum JobName {
        /// Trials that have ended: active if paid, else into grace.
        LicenseTrials => "license_trials",
        /// Grace and past-due periods that have ended: expired.
        LicenseGrace => "license_grace",
        /// Active licenses whose term has ended: expired.
        LicenseTerms => "license_terms",
        /// Licenses entering their expiring window: announced once.
        LicenseExpiring => "license_expiring",
        /// Runtime nodes past their heartbeat deadline: announced dead once, culled past the
        /// resurrection window.
        RuntimeNodes => "runtime_nodes",
        /// Payment webhooks whose handling failed, due for another attempt: retried.
        WebhookRetries => "webhook_retries",
        /// Shared instances still waiting for capacity where pools have room: placed.
        InstancePlacement => "instance_placement",
        /// Credit balances whose month has turned: the last grant's rest expired, the new
        /// month's granted.
        CreditGrants => "credit_grants",
        /// Instance logs and raw usage events past their retention: deleted.
        Retention => "retention",
    }
);

impl JobName {
    /// How long after a run the job is due again.
    pub fn every(self) -> Duration {
        match self {
            Self::LicenseTrials
            | Self::LicenseGrace
            | Self::LicenseTerms
            | Self::LicenseExpiring
            | Self::RuntimeNodes
            | Self::WebhookRetries
            | Self::CreditGrants
            | Self::InstancePlacement => Duration::from_secs(60),
            Self::Retention => Duration::from_secs(3600),
        }
    }

    pub async fn run(self, actor: &Actor) -> AppResult<u64> {
        match self {
            Self::LicenseTrials => time_rules::end_trials(actor).await,
            Self::LicenseGrace => time_rules::end_grace(actor).await,
            Self::LicenseTerms => time_rules::end_terms(actor).await,
            Self::LicenseExpiring => time_rules::announce_expiring(actor).await,
            Self::RuntimeNodes => node_rules::announce_and_cull(actor).await,
            Self::WebhookRetries => webhooks::retry_due(actor).await,
            Self::CreditGrants => credits::roll_over_due(actor).await,
            Self::InstancePlacement => placement::place_all_waiters(actor).await,
            Self::Retention => retention::prune(actor).await,
        }
    }
}
