//! A subscription's events: those after the client's cursor replayed from the log, then the
//! live ones, in log order, each once. The live broadcast is joined before the replay is read,
//! and nothing at or below the last position sent is sent again, so the two meet with no gap
//! and no duplicate, whichever gateway the cursor came from. A subscriber that falls further
//! behind the broadcast than its ring keeps never holds it back: it is closed to resume from
//! its cursor, or (a subscription that only recomputes a standing) reads the log again from
//! its last position.

use super::bus::DomainEvent;
use super::log::{self, PAGE, as_event};
use super::overrun::OnLag;
use crate::auth::Actor;
use crate::error::{AppError, AppResult, ConflictReason};
use futures_util::Stream;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

/// A cursor as clients send it: a log position.
pub fn cursor(raw: Option<&str>) -> AppResult<Option<i64>> {
    raw.map(|raw| {
        raw.trim()
            .parse::<i64>()
            .ok()
            .filter(|position| *position >= 0)
            .ok_or_else(|| AppError::validation("after", "not a cursor of this subscription"))
    })
    .transpose()
}

pub fn cursor_of(event: &DomainEvent) -> String {
    event.position.to_string()
}

/// The events `keep` admits: after `after` from the log (refused with CURSOR_EXPIRED when
/// retention has pruned past it), then live. `owner` narrows the replay to one developer's rows
/// (the caller's own: an optimisation, `keep` still decides).
pub async fn events<F>(
    actor: &Actor,
    after: Option<i64>,
    owner: Option<Uuid>,
    on_lag: OnLag,
    keep: F,
) -> AppResult<impl Stream<Item = Arc<DomainEvent>> + use<F>>
where
    F: Fn(&DomainEvent) -> bool + Send + Sync + 'static,
{
    let bus = actor.app.bus.clone();
    let db = actor.app.db.clone();
    let mut live = bus.subscribe();
    let tail = bus.tail();
    let after = match after {
        Some(after) if after < log::pruned_through(&db).await? => {
            return Err(AppError::conflict(
                ConflictReason::CursorExpired,
                "events after this cursor are past retention: reload, then subscribe without `after`",
            ));
        }
        Some(after) => Some(after),
        // From now: what was committed before, even if not yet delivered here, is not sent.
        None => Some(log::end(&db).await?),
    };
    Ok(async_stream::stream! {
        // Replay what the log holds after the cursor, up to where live delivery begins.
        let mut last = after.unwrap_or(tail);
        let mut replay_to = after.filter(|after| *after < tail).map(|_| tail);
        loop {
            if let Some(until) = replay_to {
                'replay: loop {
                    let rows = match log::rows_after(&db, last, owner, PAGE).await {
                        Ok(rows) => rows,
                        Err(err) => {
                            tracing::warn!(%err, "a subscription could not read the event log");
                            return;
                        }
                    };
                    let page_full = rows.len() as u64 == PAGE;
                    for row in rows {
                        if row.position > until {
                            break 'replay;
                        }
                        last = row.position;
                        let event = Arc::new(as_event(row));
                        if keep(&event) {
                            yield event;
                        }
                    }
                    if !page_full {
                        break;
                    }
                }
                last = last.max(until);
                replay_to = None;
            }
            match live.recv().await {
                Ok(event) if event.position > last => {
                    last = event.position;
                    if keep(&event) {
                        yield event;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => match &on_lag {
                    OnLag::CatchUp => {
                        live = bus.subscribe();
                        replay_to = Some(bus.tail());
                    }
                    OnLag::Close(Some(overrun)) => {
                        overrun.report();
                        // Never complete: the client must see its socket close, not its
                        // subscription end, to know to resume.
                        std::future::pending::<()>().await;
                    }
                    OnLag::Close(None) => return,
                },
                Err(RecvError::Closed) => return,
            }
        }
    })
}
