//! Page arguments and fetching one page, for every list: the first `limit` rows after a
//! cursor, with one row more read to know whether another page follows. Cursors are opaque
//! to clients (URL-safe base64) and checked before use.

use crate::error::{AppError, AppResult};
use chrono::{DateTime, FixedOffset};
use data_encoding::BASE64URL_NOPAD;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QuerySelect, QueryTrait,
    Select,
};
use uuid::Uuid;

const DEFAULT_PAGE_SIZE: u64 = 20;

/// Positions stop well short of the signed 64-bit integers SQL offsets are.
const MAX_POSITION: u64 = 1 << 53;

/// Where a page starts: after the row with this id (keyset on time-ordered ids), after the row
/// made at this time with this id (keyset on creation time), or after this position (for
/// orders that are not by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Start,
    Id(Uuid),
    Made(DateTime<FixedOffset>, Uuid),
    Position(u64),
}

pub struct PageArgs {
    pub limit: u64,
    pub after: After,
    /// SQL expressions over the listed table's row, each read as text with every row of the
    /// page (relations shaped with their page: `graphql::shaped::Ahead`). PostgreSQL only.
    pub also: Vec<String>,
}

impl PageArgs {
    /// `first` and `after` as a client sent them: `first` at most `max`, `after` a cursor of
    /// this API (keyset by id).
    pub fn by_id(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<Self> {
        let after = match after {
            None => After::Start,
            Some(cursor) => After::Id(
                decode(&cursor)
                    .and_then(|bytes| Uuid::from_slice(&bytes).ok())
                    .ok_or_else(not_a_cursor)?,
            ),
        };
        Ok(Self {
            limit: limit(first, max)?,
            after,
            also: Vec::new(),
        })
    }

    /// The same for lists ordered by creation time (then id): the cursor holds both.
    pub fn by_creation(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<Self> {
        let after = match after {
            None => After::Start,
            Some(cursor) => decode(&cursor)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|text| {
                    let (at, id) = text.strip_prefix("made:")?.rsplit_once('|')?;
                    Some(After::Made(
                        DateTime::parse_from_rfc3339(at).ok()?,
                        Uuid::parse_str(id).ok()?,
                    ))
                })
                .ok_or_else(not_a_cursor)?,
        };
        Ok(Self {
            limit: limit(first, max)?,
            after,
            also: Vec::new(),
        })
    }

    /// The same for lists paged by position.
    pub fn by_position(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<Self> {
        let after = match after {
            None => After::Start,
            Some(cursor) => After::Position(
                decode(&cursor)
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.strip_prefix("at:").and_then(|n| n.parse::<u64>().ok()))
                    // No position this API hands out comes near the database's integers.
                    .filter(|at| *at < MAX_POSITION)
                    .ok_or_else(not_a_cursor)?,
            ),
        };
        Ok(Self {
            limit: limit(first, max)?,
            after,
            also: Vec::new(),
        })
    }

    pub fn after_id(&self) -> Option<Uuid> {
        match self.after {
            After::Id(id) => Some(id),
            _ => None,
        }
    }

    /// The creation time and id a page ordered by creation continues after.
    pub fn after_made(&self) -> Option<(DateTime<FixedOffset>, Uuid)> {
        match self.after {
            After::Made(at, id) => Some((at, id)),
            _ => None,
        }
    }

    /// The position of the page's first row.
    pub fn offset(&self) -> u64 {
        match self.after {
            After::Position(at) => at.saturating_add(1),
            _ => 0,
        }
    }
}

/// `first` as a client sent it: at most `max`, 20 when not given.
pub fn limit(first: Option<i32>, max: usize) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 0 => Err(AppError::validation("first", "must not be negative")),
        Some(n) if n as usize > max => Err(AppError::validation(
            "first",
            format!("must be at most {max}"),
        )),
        Some(n) => Ok(n as u64),
    }
}

fn decode(cursor: &str) -> Option<Vec<u8>> {
    BASE64URL_NOPAD.decode(cursor.as_bytes()).ok()
}

fn not_a_cursor() -> AppError {
    AppError::validation("after", "not a cursor from this API")
}

pub fn id_cursor(id: Uuid) -> String {
    BASE64URL_NOPAD.encode(id.as_bytes())
}

pub fn creation_cursor(at: DateTime<FixedOffset>, id: Uuid) -> String {
    BASE64URL_NOPAD.encode(format!("made:{}|{id}", at.to_rfc3339()).as_bytes())
}

pub fn position_cursor(position: u64) -> String {
    BASE64URL_NOPAD.encode(format!("at:{position}").as_bytes())
}

/// One page of rows, in order, and where it stands.
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
    /// The position of the first row.
    pub offset: u64,
    /// Each row's texts of `PageArgs::also`, in order (none when none were asked for, or
    /// they could not be read).
    pub also: Vec<Vec<Option<String>>>,
}

impl<T> Page<T> {
    /// The same page with each row made into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
            offset: self.offset,
            also: self.also,
        }
    }
}

/// Reads the page `query` (already filtered past the cursor and ordered) holds for `page`.
pub async fn fetch<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    page: &PageArgs,
) -> AppResult<Page<E::Model>> {
    let offset = page.offset();
    let (mut rows, mut also) =
        if page.also.is_empty() || conn.get_database_backend() != DbBackend::Postgres {
            (page_of(query, page).all(conn).await?, Vec::new())
        } else {
            let (rows, also) = with_also(conn, query, &page.also, page.limit + 1, offset).await?;
            (rows, also.unwrap_or_default())
        };
    let has_next = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    also.truncate(page.limit as usize);
    Ok(Page {
        rows,
        has_next,
        has_previous: page.after != After::Start,
        offset,
        also,
    })
}

/// The page's rows of `query`: one more than the page holds, from its position.
fn page_of<E: EntityTrait>(query: Select<E>, page: &PageArgs) -> Select<E> {
    let offset = page.offset();
    let query = if offset > 0 {
        query.offset(offset)
    } else {
        query
    };
    query.limit(page.limit + 1)
}

/// The first `limit` rows of `query` from `offset` (neither set on it), with the texts of
/// `also` (SQL expressions over its table's row) beside each; without them (`None`) when they
/// cannot be read: they are the shaped path's, whose failures leave its fields to the engine,
/// and the rows are read again as they are. PostgreSQL only.
///
/// The limit and offset are written into the statement: PostgreSQL plans a statement whose
/// limit is a parameter for a limit it does not know, and such a plan (sorting every matching
/// row, each with its subqueries) would cost a hundred times more than one for the page, so it
/// planned this statement afresh on every run (about a fifth of its cost). Written in, it is
/// planned once for each connection.
pub async fn with_also<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    also: &[String],
    limit: u64,
    offset: u64,
) -> Result<(Vec<E::Model>, Option<Vec<Vec<Option<String>>>>), DbErr> {
    match read_with_also(conn, query.clone(), also, limit, offset).await {
        Ok((rows, texts)) => Ok((rows, Some(texts))),
        Err(err) => {
            tracing::warn!(error = %err, "a page's shaped relations failed; the engine answers them");
            let query = if offset > 0 {
                query.offset(offset)
            } else {
                query
            };
            Ok((query.limit(limit).all(conn).await?, None))
        }
    }
}

async fn read_with_also<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    mut query: Select<E>,
    also: &[String],
    limit: u64,
    offset: u64,
) -> Result<(Vec<E::Model>, Vec<Vec<Option<String>>>), DbErr> {
    let names: Vec<String> = (0..also.len())
        .map(|at| format!("page_also_{at}"))
        .collect();
    for (sql, name) in also.iter().zip(&names) {
        query = query.expr_as(Expr::cust(format!("({sql})::text")), name.as_str());
    }
    let mut statement = query.build(DbBackend::Postgres);
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    if offset > 0 {
        statement.sql.push_str(&format!(" OFFSET {offset}"));
    }
    let found = conn.query_all_raw(statement).await?;
    let mut rows = Vec::with_capacity(found.len());
    let mut texts = Vec::with_capacity(found.len());
    for row in &found {
        rows.push(E::Model::from_query_result(row, "")?);
        texts.push(
            names
                .iter()
                .map(|name| row.try_get::<Option<String>>("", name))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok((rows, texts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Uuid::now_v7();
        let args = PageArgs::by_id(Some(5), Some(id_cursor(id)), 100).expect("valid");
        assert_eq!(args.after_id(), Some(id));
        assert!(PageArgs::by_id(None, Some("nope".into()), 100).is_err());
        assert!(PageArgs::by_id(Some(101), None, 100).is_err());
        assert!(PageArgs::by_id(Some(-1), None, 100).is_err());
        assert_eq!(PageArgs::by_id(None, None, 100).expect("ok").limit, 20);
        let next = PageArgs::by_position(Some(10), Some(position_cursor(9)), 100).expect("ok");
        assert_eq!((next.offset(), next.limit), (10, 10));
        assert!(PageArgs::by_position(None, Some(id_cursor(id)), 100).is_err());
        let beyond = position_cursor(u64::MAX);
        assert!(PageArgs::by_position(None, Some(beyond), 100).is_err());
        let at = DateTime::parse_from_rfc3339("2026-11-27T01:02:03.456789+00:00").expect("time");
        let made = PageArgs::by_creation(None, Some(creation_cursor(at, id)), 100).expect("ok");
        assert_eq!(made.after_made(), Some((at, id)));
        assert!(PageArgs::by_creation(None, Some(id_cursor(id)), 100).is_err());
        assert!(PageArgs::by_id(None, Some(creation_cursor(at, id)), 100).is_err());
    }
}
