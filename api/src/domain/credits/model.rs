//! The credit vocabulary, stored as lower-case text and checked by the database.

use crate::vocabulary::text_enum;

text_enum!(
    /// What a credit pays for.
    pub enum CreditKind {
        Mail => "mail",
        Sms => "sms",
    }
);

impl CreditKind {
    /// The plan's monthly grant of this kind.
    pub fn entitlement(self) -> &'static str {
        match self {
            Self::Mail => "monthly_mail_credits",
            Self::Sms => "monthly_sms_credits",
        }
    }

    /// How a refusal names it in `extensions.metric`.
    pub fn metric(self) -> &'static str {
        match self {
            Self::Mail => "mail_credits",
            Self::Sms => "sms_credits",
        }
    }
}

text_enum!(
    /// Why a ledger entry moved a balance.
    pub enum CreditReason {
        /// The month's grant, at its start.
        MonthlyGrant => "monthly_grant",
        /// What the last month's grant left, gone when the next one comes.
        Expired => "expired",
        /// Bought on top, kept from month to month.
        Purchase => "purchase",
        Spend => "spend",
    }
);
