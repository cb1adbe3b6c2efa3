//! Accounts: developers, team members and admins.
//! - `input.rs`: the rules for emails, names and passwords.
//! - `model.rs`: the filter clients send to find developers.
//! - `service.rs`: signup, login, the first admin, and the admin's list of developers.
//! - `schema.rs`: the `User` type, `me`, `developers`, `signup`, `login`.
//! - `loaders.rs`: users by id.

pub mod input;
pub mod loaders;
pub mod model;
pub mod schema;
pub mod service;
