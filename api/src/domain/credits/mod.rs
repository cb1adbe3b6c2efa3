//! Monthly credits (mail, sms): granted at each month's start per the plan (with the
//! developer's overrides), bought by admins on top, spent atomically and never below zero.
//! - `model.rs`: credit kinds and ledger reasons.
//! - `service.rs`: balances, the month's roll-over, spending and buying, the ledger.
//! - `schema.rs`: `creditBalances`, `creditLedger`, `spendCredits`, `addCredits`.

pub mod model;
pub mod schema;
pub mod service;
