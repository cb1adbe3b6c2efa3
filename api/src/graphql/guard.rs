//! The only way to make a GraphQL object: from a row the request's actor may see.
//!
//! Each object type implements `Guarded`: the row it shows and that row's `Audience`. Its
//! constructor takes a `Seen` pass that only this module can make, after asking
//! `Actor::may_see`, so no resolver, root or relation, can hand out an object without the
//! check: a path that skipped it would not compile.

use super::siblings::Together;
use crate::auth::{Actor, Audience};
use crate::error::{AppError, AppResult};
use uuid::Uuid;

/// Proof that the actor may see a row; only this module makes one. It carries the objects shown
/// with it, for objects that load their relations together (`Guarded::sibling_key`).
pub struct Seen(Together);

impl Seen {
    /// The objects shown together with this one (none when it was shown on its own).
    pub fn together(self) -> Together {
        self.0
    }
}

pub trait Guarded: Sized {
    type Row;
    /// Who may see this row.
    fn audience(row: &Self::Row) -> Audience;
    /// The object for a row `seen` has cleared.
    fn wrap(row: Self::Row, seen: Seen) -> Self;
    /// The key this object's relations are loaded by, for types whose objects, when shown in a
    /// list, load each relation once for the whole list (`Together`).
    fn sibling_key(_row: &Self::Row) -> Option<Uuid> {
        None
    }
}

/// The object for `row`, if the actor may see it.
pub fn shown<T: Guarded>(actor: &Actor, row: T::Row) -> Option<T> {
    actor
        .may_see(T::audience(&row))
        .then(|| T::wrap(row, Seen(Together::alone())))
}

/// The objects for the rows the actor may see, in order; the others are left out.
pub fn shown_all<T: Guarded>(actor: &Actor, rows: impl IntoIterator<Item = T::Row>) -> Vec<T> {
    shown_together(actor, rows.into_iter().map(|row| ((), row)))
        .into_iter()
        .map(|((), object)| object)
        .collect()
}

/// The same for rows that come with something of their own (a cursor), kept beside each
/// object. The objects shown are one sibling set.
pub fn shown_together<X, T: Guarded>(
    actor: &Actor,
    rows: impl IntoIterator<Item = (X, T::Row)>,
) -> Vec<(X, T)> {
    shown_together_with(actor, rows, |_| ())
}

/// The same, with `prepare` given the sibling set before any object is made in it.
pub fn shown_together_with<X, T: Guarded>(
    actor: &Actor,
    rows: impl IntoIterator<Item = (X, T::Row)>,
    prepare: impl FnOnce(&Together),
) -> Vec<(X, T)> {
    let visible: Vec<(X, T::Row)> = rows
        .into_iter()
        .filter(|(_, row)| actor.may_see(T::audience(row)))
        .collect();
    let keys: Vec<Uuid> = visible
        .iter()
        .filter_map(|(_, row)| T::sibling_key(row))
        .collect();
    let together = Together::of(keys);
    prepare(&together);
    visible
        .into_iter()
        .map(|(extra, row)| (extra, T::wrap(row, Seen(together.clone()))))
        .collect()
}

/// The objects for the rows the actor may see, in order, made members of the sibling set
/// `together` (rows an edge loaded for a whole sibling set).
pub fn shown_in<T: Guarded>(
    actor: &Actor,
    together: &Together,
    rows: impl IntoIterator<Item = T::Row>,
) -> Vec<T> {
    rows.into_iter()
        .filter(|row| actor.may_see(T::audience(row)))
        .map(|row| T::wrap(row, Seen(together.clone())))
        .collect()
}

/// The sibling key of a row, if the actor may see it.
pub fn visible_key<T: Guarded>(actor: &Actor, row: &T::Row) -> Option<Uuid> {
    actor
        .may_see(T::audience(row))
        .then(|| T::sibling_key(row))
        .flatten()
}

/// The object for `row`, or NOT_FOUND naming `what`: to a caller who may not see it, it does
/// not exist. An answer of its own (a lookup, a mutation's result), so a sibling set of one: its
/// relations load at once rather than wait for a batch that nothing else will join.
pub fn shown_or_not_found<T: Guarded>(
    actor: &Actor,
    row: T::Row,
    what: &'static str,
) -> AppResult<T> {
    let key = visible_key::<T>(actor, &row);
    shown_in(actor, &Together::alone_of(key), [row])
        .pop()
        .ok_or(AppError::NotFound(what))
}
