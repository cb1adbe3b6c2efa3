//! Shaped rows written as the answer's JSON text while the statement's JSON text is read, each
//! object only if the actor may see it. Values are borrowed from the statement's text and
//! copied as they are where the field's type writes them the same way (ids, strings, whole
//! numbers, booleans, nulls); instants, enums and other numbers are read and written as the
//! engine writes them. No value is made for a row, a list or a field.

use super::compile::{Item, Key, Plan, Slot};
use super::{Kind, Parent, Seen, is_null, uuid};
use crate::auth::Actor;
use crate::graphql::written;
use async_graphql::InputType;
use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// A shaped value that does not read back as its field's type: the engine answers instead.
pub struct Unreadable;

/// The JSON text of the list of rows in `text` (`json_agg`) reached from `parent`, the objects
/// the actor may not see left out.
pub fn list(plan: &Plan, text: &str, actor: &Actor, parent: Parent) -> Result<Vec<u8>, Unreadable> {
    let mut out = Vec::with_capacity(text.len());
    let mut reader = serde_json::Deserializer::from_str(text);
    Rows {
        plan,
        actor,
        parent,
        out: &mut out,
        scratch: &mut Scratch::default(),
    }
    .deserialize(&mut reader)
    .map_err(|_| Unreadable)?;
    reader.end().map_err(|_| Unreadable)?;
    Ok(out)
}

/// What reading a row needs, kept for the next row at the same depth.
#[derive(Default)]
struct Scratch<'de> {
    /// Each element's text.
    cells: Vec<&'de RawValue>,
    /// Where each relation's answer is in `nested`, at its element.
    answers: Vec<Option<Range<usize>>>,
    /// The row's relations, written.
    nested: Vec<u8>,
    /// The same for the rows of the row's relations.
    below: Option<Box<Scratch<'de>>>,
}

/// A relation's rows: a JSON array of row arrays, written as a list of objects.
struct Rows<'a, 'de> {
    plan: &'a Plan,
    actor: &'a Actor,
    parent: Parent,
    out: &'a mut Vec<u8>,
    scratch: &'a mut Scratch<'de>,
}

impl<'de> DeserializeSeed<'de> for Rows<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        reader.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut written = false;
        while let Some(wrote) = rows.next_element_seed(Row {
            plan: self.plan,
            actor: self.actor,
            parent: self.parent,
            out: self.out,
            comma: written,
            scratch: self.scratch,
        })? {
            written |= wrote;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// One row, written as its object (after a comma when `comma`) unless the actor may not see it
/// or it is null: whether it was written.
struct Row<'a, 'de> {
    plan: &'a Plan,
    actor: &'a Actor,
    parent: Parent,
    out: &'a mut Vec<u8>,
    comma: bool,
    scratch: &'a mut Scratch<'de>,
}

impl<'de> DeserializeSeed<'de> for Row<'_, 'de> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<bool, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Row<'_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut row: A) -> Result<bool, A::Error> {
        let plan = self.plan;
        let unreadable = || A::Error::custom("a shaped value does not read back");
        let audience = plan.table.audience.len();
        let Scratch {
            cells,
            answers,
            nested,
            below,
        } = self.scratch;
        cells.clear();
        answers.clear();
        nested.clear();
        // Who may see the row and who owns what it reaches, once its audience is read.
        let mut seen: Option<(bool, Option<uuid::Uuid>)> = None;
        for slot in &plan.slots {
            if cells.len() == audience && seen.is_none() {
                let Seen { by, owner } =
                    (plan.table.see)(cells, self.parent).ok_or_else(unreadable)?;
                seen = Some((self.actor.may_see(by), owner));
            }
            let visible = seen.is_some_and(|(visible, _)| visible);
            match slot {
                Slot::Cell => {
                    let cell = row.next_element::<&RawValue>()?.ok_or_else(unreadable)?;
                    cells.push(cell);
                }
                Slot::List { key, plan } | Slot::Object { key, plan } if visible => {
                    let key = *cells.get(*key).ok_or_else(unreadable)?;
                    let parent = Parent {
                        key: if is_null(key) {
                            None
                        } else {
                            Some(uuid(key).ok_or_else(unreadable)?)
                        },
                        owner: seen.and_then(|(_, owner)| owner),
                    };
                    let scratch = below.get_or_insert_with(Box::default);
                    let start = nested.len();
                    if matches!(slot, Slot::List { .. }) {
                        row.next_element_seed(Rows {
                            plan,
                            actor: self.actor,
                            parent,
                            out: nested,
                            scratch,
                        })?
                        .ok_or_else(unreadable)?;
                    } else {
                        let wrote = row
                            .next_element_seed(Row {
                                plan,
                                actor: self.actor,
                                parent,
                                out: nested,
                                comma: false,
                                scratch,
                            })?
                            .ok_or_else(unreadable)?;
                        if !wrote {
                            nested.extend_from_slice(b"null");
                        }
                    }
                    grow(answers, cells.len(), start..nested.len());
                    // Its key's text holds its place: no key reads a relation's element.
                    cells.push(key);
                }
                Slot::List { key, .. } | Slot::Object { key, .. } => {
                    row.next_element::<IgnoredAny>()?.ok_or_else(unreadable)?;
                    cells.push(*cells.get(*key).ok_or_else(unreadable)?);
                }
            }
        }
        if row.next_element::<IgnoredAny>()?.is_some() {
            return Err(unreadable());
        }
        if seen.is_none() {
            let Seen { by, owner } = (plan.table.see)(cells, self.parent).ok_or_else(unreadable)?;
            seen = Some((self.actor.may_see(by), owner));
        }
        if !seen.is_some_and(|(visible, _)| visible) {
            return Ok(false);
        }
        let out = self.out;
        let rollback = out.len();
        if self.comma {
            out.push(b',');
        }
        out.push(b'{');
        for (index, Key { written, item }) in plan.keys.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(written.as_bytes());
            let wrote = match item {
                Item::Typename => {
                    out.push(b'"');
                    out.extend_from_slice(plan.table.type_name.as_bytes());
                    out.push(b'"');
                    Ok(())
                }
                Item::Column { at, kind } => match cells.get(*at) {
                    Some(cell) => value(out, cell, *kind),
                    None => Err(Unreadable),
                },
                Item::Relation { at } => match answers.get(*at).cloned().flatten() {
                    Some(range) => {
                        out.extend_from_slice(&nested[range]);
                        Ok(())
                    }
                    None => Err(Unreadable),
                },
            };
            if wrote.is_err() {
                out.truncate(rollback);
                return Err(unreadable());
            }
        }
        out.push(b'}');
        Ok(true)
    }
}

/// Puts `answer` at `at`, the slots before it empty.
fn grow(answers: &mut Vec<Option<Range<usize>>>, at: usize, answer: Range<usize>) {
    if answers.len() <= at {
        answers.resize_with(at + 1, || None);
    }
    answers[at] = Some(answer);
}

/// A column's value as its field's type writes it.
fn value(out: &mut Vec<u8>, cell: &RawValue, kind: Kind) -> Result<(), Unreadable> {
    let text = cell.get();
    if text == "null" {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match kind {
        Kind::Scalar => match text.as_bytes().first() {
            Some(b'"') => out.extend_from_slice(text.as_bytes()),
            Some(b't' | b'f') => out.extend_from_slice(text.as_bytes()),
            // Whole numbers are written alike; others as the engine reads and writes them.
            Some(b'-' | b'0'..=b'9') if text.bytes().all(|b| b == b'-' || b.is_ascii_digit()) => {
                out.extend_from_slice(text.as_bytes());
            }
            Some(b'-' | b'0'..=b'9') => {
                let number: serde_json::Number =
                    serde_json::from_str(text).map_err(|_| Unreadable)?;
                written::value(out, &async_graphql::Value::Number(number));
            }
            _ => return Err(Unreadable),
        },
        Kind::Time => {
            let at = DateTime::parse_from_rfc3339(&string(text)?).map_err(|_| Unreadable)?;
            written::value(out, &at.with_timezone(&Utc).to_value());
        }
        Kind::Enum(read) => {
            // A GraphQL name: nothing in it is escaped.
            let name = read(&string(text)?).ok_or(Unreadable)?;
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
    }
    Ok(())
}

/// The string a JSON string's text holds.
fn string(text: &str) -> Result<Cow<'_, str>, Unreadable> {
    let inner = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or(Unreadable)?;
    if inner.contains('\\') {
        serde_json::from_str(text)
            .map(Cow::Owned)
            .map_err(|_| Unreadable)
    } else {
        Ok(Cow::Borrowed(inner))
    }
}
