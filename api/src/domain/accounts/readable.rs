//! What reading an account for an answer selects: every column but the password hash. Only
//! signing in and changing a password read the hash (with queries of their own), so for every
//! other read it never leaves the database, and the rows are the smaller for it.

use entity::{prelude::*, users};
use sea_orm::sea_query::Expr;
use sea_orm::{EntityTrait, Iterable, QuerySelect, Select};

/// `Users::find()` without the password hash (read as absent).
pub fn accounts() -> Select<Users> {
    Users::find()
        .select_only()
        .columns(users::Column::iter().filter(|c| !matches!(c, users::Column::PasswordHash)))
        .column_as(Expr::cust("CAST(NULL AS TEXT)"), "password_hash")
}
