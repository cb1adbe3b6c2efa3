//! A selection over described types as one SQL expression, and the plan that writes its rows.
//! The SQL is made of the descriptions alone: nothing the client sent (names, aliases,
//! arguments) is written into it, only matched against them.

use super::{Kind, Relation, Rows, Table};
use async_graphql::Name;
use async_graphql::parser::types::{Selection, SelectionSet};

/// How one row (a JSON array: the audience columns, then the selection's values, each value
/// once) is read and written.
pub struct Plan {
    pub table: &'static Table,
    /// What each element of the row's array is.
    pub slots: Vec<Slot>,
    /// Each response key in selection order and where its value is.
    pub keys: Vec<Key>,
}

/// A response key of a row's object and where its value is.
pub struct Key {
    /// The key as written before its value: `"name":`.
    pub written: String,
    pub item: Item,
}

pub enum Slot {
    /// A column's value.
    Cell,
    /// A relation's rows, reached through the row's value at `key` (an earlier element).
    List { key: usize, plan: Plan },
    /// A relation's one row or null, the same way.
    Object { key: usize, plan: Plan },
}

pub enum Item {
    Typename,
    /// A value (read by as many keys as ask for it).
    Column {
        at: usize,
        kind: Kind,
    },
    /// A relation's answer.
    Relation {
        at: usize,
    },
}

/// PostgreSQL's limit on a function's arguments.
const MAX_ARGUMENTS: usize = 100;

/// Names the rows of each level: `t1`, `t2`, ...
struct Aliases(usize);

impl Aliases {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("t{}", self.0)
    }
}

/// The JSON list of `relation`'s rows for the parent key `parent` (an SQL expression), as
/// `set` selects them, and its plan; `None` when the selection is not one this path covers.
pub fn list(
    relation: &Relation,
    parent: &str,
    set: &SelectionSet,
    cap: u64,
) -> Option<(String, Plan)> {
    relation_sql(relation, parent, set, cap, &mut Aliases(0))
}

// A list's rows are aggregated in the order its subquery reads them (`ORDER BY` and `LIMIT`
// in the subquery, which is therefore never flattened into the outer query): an `ORDER BY` in
// the aggregate would sort them again, a fifth of the statement's cost.
fn relation_sql(
    relation: &Relation,
    parent: &str,
    set: &SelectionSet,
    cap: u64,
    aliases: &mut Aliases,
) -> Option<(String, Plan)> {
    let alias = aliases.next();
    let row = row_sql(relation.target, &alias, set, cap, aliases)?;
    let columns: Vec<&str> = row.columns.iter().map(String::as_str).collect();
    let sql = match &relation.rows {
        Rows::Many { edge, .. } => format!(
            "(SELECT coalesce(json_agg({json}), '[]'::json) FROM ({rows}) AS {alias})",
            json = row.json,
            rows = edge(cap, &columns).replace("{parent}", parent),
        ),
        Rows::One { table, .. } => format!(
            "(SELECT {json} FROM \"{table}\" AS {alias} WHERE {alias}.\"id\" = {parent})",
            json = row.json,
        ),
    };
    Some((sql, row.plan))
}

/// One row as a selection reads it.
struct Row {
    /// `json_build_array(...)` over the row's alias.
    json: String,
    /// The table's columns it reads.
    columns: Vec<String>,
    plan: Plan,
}

/// The values of a row's array, each SQL expression once.
struct Values {
    alias: String,
    exprs: Vec<String>,
    slots: Vec<Slot>,
    columns: Vec<String>,
}

impl Values {
    /// The index of `template` (columns written `{t}.column`), added if new.
    fn of(&mut self, template: &str) -> usize {
        for column in columns_of(template) {
            if !self.columns.iter().any(|c| c == column) {
                self.columns.push(column.to_owned());
            }
        }
        let expr = template.replace("{t}", &self.alias);
        self.push(expr)
    }

    fn push(&mut self, expr: String) -> usize {
        match self.exprs.iter().position(|e| *e == expr) {
            Some(index) => index,
            None => {
                self.exprs.push(expr);
                self.slots.push(Slot::Cell);
                self.exprs.len() - 1
            }
        }
    }

    /// A relation's value: never the same as another's, its plan kept with it.
    fn relation(&mut self, expr: String, slot: Slot) -> usize {
        self.exprs.push(expr);
        self.slots.push(slot);
        self.exprs.len() - 1
    }
}

/// The columns a template names (`{t}.column`).
fn columns_of(template: &str) -> impl Iterator<Item = &str> {
    template.split("{t}.").skip(1).map(|rest| {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

fn row_sql(
    table: &'static Table,
    alias: &str,
    set: &SelectionSet,
    cap: u64,
    aliases: &mut Aliases,
) -> Option<Row> {
    let mut values = Values {
        alias: alias.to_owned(),
        exprs: Vec::new(),
        slots: Vec::new(),
        columns: Vec::new(),
    };
    for column in table.audience {
        values.of(&format!("{{t}}.{column}"));
    }
    let mut names: Vec<&Name> = Vec::with_capacity(set.items.len());
    let mut keys: Vec<Key> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.directives.is_empty() || !field.arguments.is_empty() {
            return None;
        }
        let response_key = &field.response_key().node;
        if names.contains(&response_key) {
            return None;
        }
        let name = field.name.node.as_str();
        let item = if name == "__typename" {
            Item::Typename
        } else if let Some(column) = table.columns.iter().find(|c| c.name == name) {
            if !field.selection_set.node.items.is_empty() {
                return None;
            }
            Item::Column {
                at: values.of(column.sql),
                kind: column.kind,
            }
        } else if let Some(relation) = table.relations.iter().find(|r| r.name == name) {
            let (Rows::Many { key: column, .. } | Rows::One { key: column, .. }) = relation.rows;
            let key = values.of(&format!("{{t}}.{column}"));
            let parent = format!("{alias}.{column}");
            let (sql, plan) =
                relation_sql(relation, &parent, &field.selection_set.node, cap, aliases)?;
            let slot = match relation.rows {
                Rows::Many { .. } => Slot::List { key, plan },
                Rows::One { .. } => Slot::Object { key, plan },
            };
            Item::Relation {
                at: values.relation(sql, slot),
            }
        } else {
            return None;
        };
        names.push(response_key);
        keys.push(Key {
            written: format!("{}:", serde_json::to_string(response_key.as_str()).ok()?),
            item,
        });
    }
    if values.exprs.len() > MAX_ARGUMENTS {
        return None;
    }
    Some(Row {
        json: format!("json_build_array({})", values.exprs.join(", ")),
        columns: values.columns,
        plan: Plan {
            table,
            slots: values.slots,
            keys,
        },
    })
}
