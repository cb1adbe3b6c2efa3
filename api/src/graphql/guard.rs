//! The only way to make a GraphQL object: from a row the request's actor may see.
//!
//! Each object type implements `Guarded`: the row it shows and that row's `Audience`. Its
//! constructor takes a `Seen` pass that only this module can make, after asking
//! `Actor::may_see`, so no resolver, root or relation, can hand out an object without the
//! check: a path that skipped it would not compile.

use crate::auth::{Actor, Audience};
use crate::error::{AppError, AppResult};

/// Proof that the actor may see a row; only `shown` makes one.
pub struct Seen(());

pub trait Guarded: Sized {
    type Row;
    /// Who may see this row.
    fn audience(row: &Self::Row) -> Audience;
    /// The object for a row `seen` has cleared.
    fn wrap(row: Self::Row, seen: Seen) -> Self;
}

/// The object for `row`, if the actor may see it.
pub fn shown<T: Guarded>(actor: &Actor, row: T::Row) -> Option<T> {
    actor
        .may_see(T::audience(&row))
        .then(|| T::wrap(row, Seen(())))
}

/// The objects for the rows the actor may see, in order; the others are left out.
pub fn shown_all<T: Guarded>(actor: &Actor, rows: impl IntoIterator<Item = T::Row>) -> Vec<T> {
    rows.into_iter()
        .filter_map(|row| shown(actor, row))
        .collect()
}

/// The object for `row`, or NOT_FOUND naming `what`: to a caller who may not see it, it does
/// not exist.
pub fn shown_or_not_found<T: Guarded>(
    actor: &Actor,
    row: T::Row,
    what: &'static str,
) -> AppResult<T> {
    shown(actor, row).ok_or(AppError::NotFound(what))
}
