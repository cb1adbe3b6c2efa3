//! The one way a Relay connection is built: edges with cursors, page info, and a total count
//! that is computed only when the query selects it.

use super::context::ContextExt;
use super::guard::{Guarded, shown_together_with};
use super::shaped::Ahead;
use crate::error::AppResult;
use crate::paging::Page;
use crate::total_count::Count;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, OutputType, Result, SimpleObject};
use std::future::Future;

/// The extra fields every connection carries.
#[derive(SimpleObject)]
pub struct TotalCount {
    /// How many nodes match the filter, across all pages: exact up to
    /// `GRAPHQL_EXACT_COUNT_LIMIT`, past it the database's estimate (see `totalCountIsEstimate`),
    /// so that a count costs the same at any size.
    total_count: u64,
    /// True when `totalCount` is an estimate: more nodes match than are counted exactly.
    total_count_is_estimate: bool,
}

pub type PagedConnection<N> = Connection<String, N, TotalCount>;

/// The connection for one page: `cursor` names each row by its position and value, each row
/// becomes its object through the visibility rule (the listing already chose rows the actor
/// may see; a row it may not is left out, never shown), and `count` runs only if `totalCount`
/// or `totalCountIsEstimate` was asked for.
pub async fn connection<N>(
    ctx: &Context<'_>,
    page: Page<N::Row>,
    cursor: impl Fn(u64, &N::Row) -> String,
    count: impl Future<Output = AppResult<Count>>,
) -> Result<PagedConnection<N>>
where
    N: Guarded + OutputType,
{
    connection_ahead(ctx, page, cursor, count, None).await
}

/// The same, for a page read with its nodes' relations shaped (`ahead`: what it asked the page
/// for besides), which the nodes then find made.
pub async fn connection_ahead<N>(
    ctx: &Context<'_>,
    mut page: Page<N::Row>,
    cursor: impl Fn(u64, &N::Row) -> String,
    count: impl Future<Output = AppResult<Count>>,
    ahead: Option<Ahead>,
) -> Result<PagedConnection<N>>
where
    N: Guarded + OutputType,
{
    let actor = ctx.actor()?;
    let look_ahead = ctx.look_ahead();
    let counted = if look_ahead.field("totalCount").exists()
        || look_ahead.field("totalCountIsEstimate").exists()
    {
        count.await?
    } else {
        Count::default()
    };
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        TotalCount {
            total_count: counted.value,
            total_count_is_estimate: counted.estimated,
        },
    );
    let made = ahead.map(|ahead| {
        let keys = page.rows.iter().map(N::sibling_key).collect();
        ahead.made(keys, std::mem::take(&mut page.also))
    });
    let rows = page
        .rows
        .into_iter()
        .zip(page.offset..)
        .map(|(row, position)| (cursor(position, &row), row));
    let shown = shown_together_with::<_, N>(actor, rows, |together| {
        if let Some(made) = made {
            made(together);
        }
    });
    connection.edges.extend(
        shown
            .into_iter()
            .map(|(cursor, node)| Edge::new(cursor, node)),
    );
    Ok(connection)
}
