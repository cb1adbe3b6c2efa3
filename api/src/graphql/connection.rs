//! The one way a Relay connection is built: edges with cursors, page info, and a total count
//! that is computed only when the query selects it.

use crate::error::AppResult;
use crate::paging::Page;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, OutputType, Result, SimpleObject};
use std::future::Future;

/// The extra field every connection carries.
#[derive(SimpleObject)]
pub struct TotalCount {
    /// How many nodes match the filter, across all pages.
    total_count: u64,
}

pub type PagedConnection<N> = Connection<String, N, TotalCount>;

/// The connection for one page: `cursor` names each row by its position and value, `node`
/// makes the GraphQL object, `count` runs only if `totalCount` was asked for.
pub async fn connection<T, N>(
    ctx: &Context<'_>,
    page: Page<T>,
    cursor: impl Fn(u64, &T) -> String,
    node: impl Fn(T) -> N,
    count: impl Future<Output = AppResult<u64>>,
) -> Result<PagedConnection<N>>
where
    N: OutputType,
{
    let total_count = if ctx.look_ahead().field("totalCount").exists() {
        count.await?
    } else {
        0
    };
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        TotalCount { total_count },
    );
    connection.edges.extend(
        page.rows
            .into_iter()
            .zip(page.offset..)
            .map(|(row, position)| Edge::new(cursor(position, &row), node(row))),
    );
    Ok(connection)
}
