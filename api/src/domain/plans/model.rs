//! The plan vocabulary, stored as lower-case text and checked by the database.

use crate::vocabulary::text_enum;

text_enum!(
    // How often a plan is billed.
    pub enum BillingInterval {
        Month => "month",
        Year => "year",
    }
);

text_enum!(
    // Where a plan's customer databases live: in a shared pool or on a server of their own.
    // An instance's tier is its plan's type when it was created.
    pub enum DbType {
        Shared => "shared",
        Dedicated => "dedicated",
    }
);
