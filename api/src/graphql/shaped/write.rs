//! Shaped rows written as the answer as they are read from the statement's JSON text, each
//! object only if the actor may see it: no intermediate tree is built.

use super::compile::{Item, Plan, Slot};
use super::{Kind, Parent, Seen, uuid};
use crate::auth::Actor;
use async_graphql::indexmap::IndexMap;
use async_graphql::{InputType, Value};
use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::fmt;

/// A shaped value that does not read back as its field's type: the engine answers instead.
pub struct Unreadable;

/// The list of rows in `text` (`json_agg`, or null for none) reached from `parent`, the objects
/// the actor may not see left out.
pub fn list(plan: &Plan, text: &str, actor: &Actor, parent: Parent) -> Result<Value, Unreadable> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Rows {
        plan,
        actor,
        parent,
    }
    .deserialize(&mut reader)
    .map_err(|_| Unreadable)?;
    reader.end().map_err(|_| Unreadable)?;
    Ok(value)
}

/// A relation's rows: a JSON array of row arrays.
struct Rows<'a> {
    plan: &'a Plan,
    actor: &'a Actor,
    parent: Parent,
}

impl<'de> DeserializeSeed<'de> for Rows<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<Value, D::Error> {
        reader.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<Value, A::Error> {
        let mut objects = Vec::with_capacity(rows.size_hint().unwrap_or(0));
        let mut scratch = Scratch::default();
        while let Some(object) = rows.next_element_seed(Row {
            plan: self.plan,
            actor: self.actor,
            parent: self.parent,
            scratch: &mut scratch,
        })? {
            if let Some(object) = object {
                objects.push(object);
            }
        }
        Ok(Value::List(objects))
    }
}

/// One row: its object, or `None` when the actor may not see it (or it is null).
struct Row<'a> {
    plan: &'a Plan,
    actor: &'a Actor,
    parent: Parent,
    scratch: &'a mut Scratch,
}

/// What reading a row needs, kept for the next row of the list.
#[derive(Default)]
struct Scratch {
    /// Each element's value (null for relations).
    cells: Vec<Json>,
    /// Each relation's answer, at its element.
    answers: Vec<Option<Value>>,
}

impl<'de> DeserializeSeed<'de> for Row<'_> {
    type Value = Option<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<Self::Value, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Row<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut row: A) -> Result<Self::Value, A::Error> {
        let plan = self.plan;
        let unreadable = || A::Error::custom("a shaped value does not read back");
        let audience = plan.table.audience.len();
        let Scratch { cells, answers } = self.scratch;
        cells.clear();
        answers.clear();
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
                    let cell = row.next_element::<Json>()?.ok_or_else(unreadable)?;
                    cells.push(cell);
                }
                Slot::List { key, plan } | Slot::Object { key, plan } if visible => {
                    let owner = seen.and_then(|(_, owner)| owner);
                    let parent = Parent {
                        key: match cells.get(*key).ok_or_else(unreadable)? {
                            Json::Null => None,
                            key => Some(uuid(key).ok_or_else(unreadable)?),
                        },
                        owner,
                    };
                    let actor = self.actor;
                    let answer = if matches!(slot, Slot::List { .. }) {
                        row.next_element_seed(Rows {
                            plan,
                            actor,
                            parent,
                        })?
                        .ok_or_else(unreadable)?
                    } else {
                        row.next_element_seed(Row {
                            plan,
                            actor,
                            parent,
                            scratch: &mut Scratch::default(),
                        })?
                        .ok_or_else(unreadable)?
                        .unwrap_or(Value::Null)
                    };
                    grow(answers, cells.len(), answer);
                    cells.push(Json::Null);
                }
                Slot::List { .. } | Slot::Object { .. } => {
                    row.next_element::<IgnoredAny>()?.ok_or_else(unreadable)?;
                    cells.push(Json::Null);
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
            return Ok(None);
        }
        let mut object = IndexMap::with_capacity(plan.keys.len());
        for (key, item) in &plan.keys {
            let value = match item {
                Item::Typename => Value::String(plan.table.type_name.to_owned()),
                Item::Column { at, kind, copy } => {
                    let cell = cells.get_mut(*at).ok_or_else(unreadable)?;
                    let cell = if *copy { cell.clone() } else { cell.take() };
                    scalar(cell, *kind).map_err(|Unreadable| unreadable())?
                }
                Item::Relation { at } => answers
                    .get_mut(*at)
                    .and_then(Option::take)
                    .ok_or_else(unreadable)?,
            };
            object.insert(key.clone(), value);
        }
        Ok(Some(Value::Object(object)))
    }
}

/// Puts `answer` at `at`, the slots before it empty.
fn grow(answers: &mut Vec<Option<Value>>, at: usize, answer: Value) {
    if answers.len() <= at {
        answers.resize_with(at + 1, || None);
    }
    answers[at] = Some(answer);
}

fn scalar(value: Json, kind: Kind) -> Result<Value, Unreadable> {
    Ok(match (value, kind) {
        (Json::Null, _) => Value::Null,
        (Json::String(text), Kind::Time) => DateTime::parse_from_rfc3339(&text)
            .map_err(|_| Unreadable)?
            .with_timezone(&Utc)
            .to_value(),
        (Json::String(text), Kind::Enum(read)) => read(&text).ok_or(Unreadable)?,
        (Json::String(text), Kind::Scalar) => Value::String(text),
        (Json::Number(number), Kind::Scalar) => Value::Number(number),
        (Json::Bool(flag), Kind::Scalar) => Value::Boolean(flag),
        _ => return Err(Unreadable),
    })
}
