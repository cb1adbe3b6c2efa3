//! A page's relations shaped in the page's own statement: the lists asked for under
//! `edges { node { ... } }` of a connection whose nodes a table describes are read with each
//! row of the page, so that the whole read is one statement, and the page's objects find them
//! made (`Together::made`) as their sibling set would have loaded them (`run::answer`).

use super::compile::{self, Plan};
use super::run::Shaped;
use super::{Rows, Shaping, Table};
use crate::graphql::siblings::{Shares, Together};
use async_graphql::Context;
use async_graphql::Positioned;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use std::sync::Arc;
use uuid::Uuid;

/// The relations shaped with a page, each by the address of its field in the document.
pub struct Ahead {
    parts: Vec<Part>,
}

struct Part {
    /// The address of the field (`run::answer`'s name for its load).
    field: usize,
    sql: String,
    plan: Plan,
}

impl Ahead {
    /// The lists `table` describes that the connection field `ctx` resolves asks for under
    /// `edges { node { ... } }` (as fields of their own, not in fragments), reached by the id
    /// of a row of `from` (the page's table); `None` when there are none, or off PostgreSQL.
    pub fn of(ctx: &Context<'_>, table: &'static Table, from: &str) -> Option<Self> {
        let shaping = *ctx.data_opt::<Shaping>()?;
        let edges = child(&ctx.item.node.selection_set.node, "edges")?;
        let node = child(&edges.node.selection_set.node, "node")?;
        let parent = format!("\"{from}\".\"id\"");
        let mut parts = Vec::new();
        for item in &node.node.selection_set.node.items {
            let Selection::Field(field) = &item.node else {
                continue;
            };
            let name = field.node.name.node.as_str();
            let Some(relation) = table.relations.iter().find(|r| r.name == name) else {
                continue;
            };
            let Rows::Many { key: "id", edge } = relation.rows else {
                continue;
            };
            // The page's row is named in the list's own subquery only (`CappedEdge::correlated`
            // reads its table unaliased; lists below it name their parents by alias): a list
            // of the page's own table would take that name.
            if !field.node.arguments.is_empty()
                || !field.node.directives.is_empty()
                || edge(shaping.cap, &["id"]).contains(&format!("FROM \"{from}\" "))
            {
                continue;
            }
            let set = &field.node.selection_set.node;
            let Some((sql, plan)) = compile::list(relation, &parent, set, shaping.cap) else {
                continue;
            };
            parts.push(Part {
                field: std::ptr::from_ref(field) as usize,
                sql,
                plan,
            });
        }
        (!parts.is_empty()).then_some(Self { parts })
    }

    /// What the page is to read with each row (`PageArgs::also`).
    pub fn columns(&self) -> Vec<String> {
        self.parts.iter().map(|part| part.sql.clone()).collect()
    }

    /// Makes, for the sibling set it is given, each relation's answer from the page's rows'
    /// keys (each row's id, when its object is shown) and their texts (`Page::also`, in the
    /// same order; none when the page could not read them).
    pub fn made(
        self,
        keys: Vec<Option<Uuid>>,
        also: Vec<Vec<Option<String>>>,
    ) -> impl FnOnce(&Together) {
        let mut shares: Vec<Vec<(Uuid, String)>> = self.parts.iter().map(|_| Vec::new()).collect();
        for (key, texts) in keys.into_iter().zip(also) {
            let Some(key) = key else { continue };
            for (share, text) in shares.iter_mut().zip(texts) {
                if let Some(text) = text {
                    share.push((key, text));
                }
            }
        }
        move |together: &Together| {
            for (part, rows) in self.parts.into_iter().zip(shares) {
                if rows.is_empty() {
                    continue;
                }
                let shaped = Shaped {
                    plan: part.plan,
                    rows: rows.into_iter().collect::<Shares<String>>(),
                };
                together.made(part.field, Arc::new(Some(shaped)));
            }
        }
    }
}

/// The field `name` of `set`, asked for once as a field of its own.
fn child<'a>(set: &'a SelectionSet, name: &str) -> Option<&'a Positioned<Field>> {
    let mut found = set.items.iter().filter_map(|item| match &item.node {
        Selection::Field(field) if field.node.name.node == name => Some(field),
        _ => None,
    });
    let field = found.next()?;
    found.next().is_none().then_some(field)
}
