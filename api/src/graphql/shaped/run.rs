//! One shaped statement for a relation field over its whole sibling set, each sibling taking
//! its own share of the answer.

use super::compile::{self, Plan};
use super::{Parent, Relation, Shaping, write};
use crate::auth::Actor;
use crate::graphql::context::ContextExt;
use crate::graphql::siblings::{Shares, Together};
use crate::graphql::written;
use async_graphql::{Context, Value};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::sync::Arc;
use uuid::Uuid;

/// A relation field of one object, to be shaped.
pub struct ShapedEdge<'a> {
    pub relation: &'static Relation,
    /// The object's key, which the relation's rows name.
    pub key: Uuid,
    /// The developer owning the rows the relation reaches (`Parent::owner`).
    pub owner: Option<Uuid>,
    /// The objects answered with it.
    pub together: &'a Together,
}

/// The answer to one sibling set's relation: each key's rows as JSON text, until its sibling
/// takes them.
pub(super) struct Shaped {
    pub(super) plan: Plan,
    pub(super) rows: Shares<String>,
}

/// The answer to the field `ctx` resolves, shaped; `None` when the engine is to answer it.
pub async fn answer(ctx: &Context<'_>, edge: ShapedEdge<'_>) -> Option<Value> {
    let shaping = *ctx.data_opt::<Shaping>()?;
    let actor = ctx.actor().ok()?;
    let field = ctx.item;
    let read = || {
        load(
            actor,
            edge.relation,
            field,
            edge.together,
            edge.key,
            shaping,
        )
    };
    // Every sibling resolves the same field of the document: its address names the load.
    let id = std::ptr::from_ref(field) as usize;
    let shaped = match edge.together.once(id, read).await {
        Some(shared) => shared,
        None => Arc::new(read().await),
    };
    let shaped = shaped.as_ref().as_ref()?;
    let rows = shaped.rows.take(&edge.key)??;
    let parent = Parent {
        key: Some(edge.key),
        owner: edge.owner,
    };
    let text = write::list(&shaped.plan, &rows, actor, parent).ok()?;
    if written::accepted(ctx) {
        Some(written::text(text))
    } else {
        serde_json::from_slice(&text).ok()
    }
}

async fn load(
    actor: &Actor,
    relation: &Relation,
    field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    together: &Together,
    key: Uuid,
    shaping: Shaping,
) -> Option<Shaped> {
    let set = &field.node.selection_set.node;
    let (sql, plan) = compile::list(relation, "edge_keys.key", set, shaping.cap)?;
    let mut keys = together.keys().map_or_else(|| vec![key], <[Uuid]>::to_vec);
    keys.sort_unstable();
    keys.dedup();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT edge_keys.key, {sql}::text FROM unnest($1::uuid[]) AS edge_keys(key)"),
        [keys.into()],
    );
    let rows = match actor.app.db.query_all_raw(statement).await {
        Ok(rows) => rows,
        Err(err) => {
            // The engine answers instead, and raises what it meets its own way.
            tracing::warn!(error = %err, "a shaped relation failed; the engine answers it");
            return None;
        }
    };
    let rows = rows
        .iter()
        .map(|row| Some((row.try_get_by_index(0).ok()?, row.try_get_by_index(1).ok()?)))
        .collect::<Option<Shares<String>>>()?;
    Some(Shaped { plan, rows })
}
