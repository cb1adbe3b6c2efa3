//! Relation lists PostgreSQL shapes: a relation field whose selection is plain fields and
//! relations of types described here is answered, for every object of its sibling set at once,
//! by one statement whose result is the selection's rows nested as JSON arrays (each row an
//! array of its values, a column read once however often it is asked for), which the gateway
//! writes as the answer while it reads them: no row is decoded into a model and no object made.
//!
//! The answer is the engine's: each row's audience is read with it and shown only if the
//! request's actor may see it (the one rule, `Actor::may_see`), each value is written as the
//! field's own type writes it, and the lists are the relation loaders' own edges (filter,
//! order and cap: `CappedEdge::correlated`). Whatever this does not cover (a field not
//! described, arguments, directives, fragments, a value that does not read back) leaves the
//! field to the engine, and so does any failure. A test answers every described field both
//! ways and requires the same answer.
//!
//! PostgreSQL only: on SQLite every relation goes to the engine.

mod ahead;
mod compile;
mod run;
mod write;

pub use ahead::Ahead;
pub use run::{ShapedEdge, answer};

use crate::auth::Audience;
use crate::vocabulary::Vocabulary;
use async_graphql::resolver_utils::EnumType;
use serde_json::value::RawValue;
use uuid::Uuid;

/// Shaping is on for the schema (PostgreSQL), with the relation lists' cap.
#[derive(Clone, Copy)]
pub struct Shaping {
    pub cap: u64,
}

/// An object type as rows of a table.
pub struct Table {
    /// The GraphQL type (`__typename`).
    pub type_name: &'static str,
    /// The columns its audience is read from, first in each row.
    pub audience: &'static [&'static str],
    /// Its audience from those columns and the object it was reached from, and the owner of
    /// the objects reached from it; `None` when they do not read back.
    pub see: fn(&[&RawValue], Parent) -> Option<Seen>,
    pub columns: &'static [Column],
    pub relations: &'static [Relation],
}

/// Who may see a row, and the developer owning what is reached from it.
pub struct Seen {
    pub by: Audience,
    pub owner: Option<Uuid>,
}

/// The object a row was reached from: the key the relation followed (for a list, the value
/// every row's own key column holds) and the developer owning the rows reached, which the
/// relation's edge guarantees (a developer's licenses name it; a license's seats are its
/// developer's), for rows that do not name theirs or whose audience need not read it again.
#[derive(Clone, Copy)]
pub struct Parent {
    pub key: Option<Uuid>,
    pub owner: Option<Uuid>,
}

/// A plain field: an SQL expression over the row's columns (each written `{t}.column`) and how
/// its value is written.
pub struct Column {
    pub name: &'static str,
    pub sql: &'static str,
    pub kind: Kind,
}

/// A field whose value is written as it comes (strings, ids, numbers, booleans).
pub const fn scalar(name: &'static str, sql: &'static str) -> Column {
    Column {
        name,
        sql,
        kind: Kind::Scalar,
    }
}

/// A field holding an instant.
pub const fn time(name: &'static str, sql: &'static str) -> Column {
    Column {
        name,
        sql,
        kind: Kind::Time,
    }
}

/// A field holding an enum stored as text, read back by `read`.
pub const fn stored(
    name: &'static str,
    sql: &'static str,
    read: fn(&str) -> Option<&'static str>,
) -> Column {
    Column {
        name,
        sql,
        kind: Kind::Enum(read),
    }
}

/// How a column's JSON value is written as the field's type writes it.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Strings, ids, numbers and booleans: as they come.
    Scalar,
    /// An instant (`DateTime` in the schema).
    Time,
    /// An enum stored as text: the name of the enum's value for it.
    Enum(fn(&str) -> Option<&'static str>),
}

/// A relation field of a described type.
pub struct Relation {
    pub name: &'static str,
    pub target: &'static Table,
    pub rows: Rows,
}

pub enum Rows {
    /// A list: the loader's edge (`CappedEdge::correlated`: the columns it is asked for, of
    /// the rows for the key `{parent}`) from the row's column `key`.
    Many {
        key: &'static str,
        edge: fn(cap: u64, columns: &[&str]) -> String,
    },
    /// One object or none: the row of `table` whose `id` is the row's column `key`.
    One {
        key: &'static str,
        table: &'static str,
    },
}

/// The name of the value of the enum `T` stored as `raw`, as the engine writes it (`stored`'s
/// reader).
pub fn stored_enum<T: Vocabulary + EnumType>(raw: &str) -> Option<&'static str> {
    let value = T::from_text(raw)?;
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map(|item| item.name)
}

/// A row's column as an id.
pub fn uuid(cell: &RawValue) -> Option<Uuid> {
    cell.get()
        .strip_prefix('"')?
        .strip_suffix('"')?
        .parse()
        .ok()
}

/// Whether a row's column is null.
pub fn is_null(cell: &RawValue) -> bool {
    cell.get() == "null"
}
