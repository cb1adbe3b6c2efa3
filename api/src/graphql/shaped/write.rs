//! Shaped rows written as the answer, each object only if the actor may see it.

use super::compile::{Item, Plan};
use super::{Kind, Parent, Seen, uuid};
use crate::auth::Actor;
use async_graphql::indexmap::IndexMap;
use async_graphql::{InputType, Value};
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

/// A shaped value that does not read back as its field's type: the engine answers instead.
pub struct Unreadable;

/// A list of rows (`json_agg`) reached from `parent`, the objects the actor may not see left
/// out.
pub fn list(plan: &Plan, rows: Json, actor: &Actor, parent: Parent) -> Result<Value, Unreadable> {
    let Json::Array(rows) = rows else {
        return Err(Unreadable);
    };
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(object) = object(plan, row, actor, parent)? {
            objects.push(object);
        }
    }
    Ok(Value::List(objects))
}

/// One row, or `None` when the actor may not see it.
fn object(
    plan: &Plan,
    row: Json,
    actor: &Actor,
    parent: Parent,
) -> Result<Option<Value>, Unreadable> {
    let Json::Array(mut values) = row else {
        return Err(Unreadable);
    };
    let audience = plan.table.audience.len();
    let Seen { by, owner } =
        (plan.table.see)(values.get(..audience).ok_or(Unreadable)?, parent).ok_or(Unreadable)?;
    if !actor.may_see(by) {
        return Ok(None);
    }
    // What each relation of the row was reached from, read before any value is taken.
    let mut parents = Vec::new();
    for (_, item) in &plan.keys {
        if let Item::Many { key, .. } | Item::One { key, .. } = item {
            let key = match values.get(*key).ok_or(Unreadable)? {
                Json::Null => None,
                value => Some(uuid(value).ok_or(Unreadable)?),
            };
            parents.push(Parent { key, owner });
        }
    }
    let mut parents = parents.into_iter();
    let mut map = IndexMap::with_capacity(plan.keys.len());
    for (key, item) in &plan.keys {
        let mut take = |index: usize| values.get_mut(index).map(Json::take).ok_or(Unreadable);
        let value = match item {
            Item::Typename => Value::String(plan.table.type_name.to_owned()),
            Item::Column { at, kind, copy } => {
                let value = if *copy {
                    values.get(*at).cloned().ok_or(Unreadable)?
                } else {
                    take(*at)?
                };
                scalar(value, *kind)?
            }
            Item::Many {
                at, plan: child, ..
            } => {
                let parent = parents.next().ok_or(Unreadable)?;
                list(child, take(*at)?, actor, parent)?
            }
            Item::One {
                at, plan: child, ..
            } => {
                let parent = parents.next().ok_or(Unreadable)?;
                match take(*at)? {
                    Json::Null => Value::Null,
                    row => object(child, row, actor, parent)?.unwrap_or(Value::Null),
                }
            }
        };
        map.insert(key.clone(), value);
    }
    Ok(Some(Value::Object(map)))
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
