//! Relay cursor pagination, keyset on time-ordered (v7) ids, with the page size capped.

use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The extra field every connection carries.
#[derive(async_graphql::SimpleObject)]
pub struct TotalCount {
    /// How many nodes match the filter, across all pages.
    total_count: u64,
}

impl TotalCount {
    pub fn new(total_count: u64) -> Self {
        Self { total_count }
    }
}

const DEFAULT_PAGE_SIZE: usize = 20;

pub struct PageArgs {
    pub limit: u64,
    pub after: Option<Uuid>,
}

pub fn page_args(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<PageArgs> {
    let first = match first {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if n < 0 => return Err(AppError::validation("first", "must not be negative")),
        Some(n) if n as usize > max => {
            return Err(AppError::validation(
                "first",
                format!("must be at most {max}"),
            ));
        }
        Some(n) => n as usize,
    };
    let after = after.map(|c| decode_cursor(&c)).transpose()?;
    Ok(PageArgs {
        limit: first as u64,
        after,
    })
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> AppResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::validation("after", "not a cursor from this API"))
}

/// Paging by position, for orders that are not by id: the cursor is the row's offset.
pub struct OffsetArgs {
    pub offset: u64,
    pub limit: u64,
}

pub fn offset_args(first: Option<i32>, after: Option<String>, max: usize) -> AppResult<OffsetArgs> {
    let limit = page_args(first, None, max)?.limit;
    let offset = match after {
        None => 0,
        Some(cursor) => URL_SAFE_NO_PAD
            .decode(&cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("at:").and_then(|n| n.parse::<u64>().ok()))
            .map(|n| n + 1)
            .ok_or_else(|| AppError::validation("after", "not a cursor from this API"))?,
    };
    Ok(OffsetArgs { offset, limit })
}

pub fn encode_offset_cursor(position: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("at:{position}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Uuid::now_v7();
        let args = page_args(Some(5), Some(encode_cursor(id)), 100).expect("valid");
        assert_eq!(args.after, Some(id));
        assert!(page_args(None, Some("nope".into()), 100).is_err());
        assert!(page_args(Some(101), None, 100).is_err());
        assert!(page_args(Some(-1), None, 100).is_err());
        assert_eq!(page_args(None, None, 100).expect("ok").limit, 20);
        let next = offset_args(Some(10), Some(encode_offset_cursor(9)), 100).expect("ok");
        assert_eq!((next.offset, next.limit), (10, 10));
    }
}
