//! Accounts: developers, team members and admins.
//! - `input.rs`: the rules for emails, names and passwords.
//! - `model.rs`: the filter clients send to find developers.
//! - `service.rs`: signup, login, the first admin, and the admin's list of developers.
//! - `one_time.rs`: single-use tokens mailed as links, stored as digests.
//! - `verification.rs`: verifying an address, and what an unverified developer may not do.
//! - `recovery.rs`: resetting a forgotten password, changing a known one.
//! - `schema.rs`: the `User` type, `me`, `developers`, `signup`, `login` and the mail flows.
//! - `loaders.rs`: users by id.
//! - `readable.rs`: accounts as answers read them, without the password hash.

pub mod input;
pub mod loaders;
pub mod model;
pub mod one_time;
pub mod readable;
pub mod recovery;
pub mod schema;
pub mod service;
pub mod shaped;
pub mod verification;
