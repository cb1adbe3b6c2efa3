//! Keys in the database, so that every gateway sharing it honours them: a claim is one
//! conditional insert (the unique `(caller, key)` settles a race, whoever inserts first runs the
//! request), the answer is written over the claim when the request is done.

use crate::error::{AppError, AppResult, ConflictReason};
use chrono::{DateTime, Duration, Utc};
use entity::idempotency_keys::{self, Column};
use entity::prelude::IdempotencyKeys;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// How long a key answers its first request again.
pub const KEPT: Duration = Duration::hours(24);

/// How long a request may run before its claim is taken for lost (its gateway stopped midway)
/// and the same request may claim the key again: far longer than any mutation runs.
const LEASE: Duration = Duration::minutes(5);

const RUNNING: &str = "running";
const DONE: &str = "done";

/// One caller's key for one request.
pub struct KeyedRequest<'a> {
    pub caller: &'a str,
    /// The key's digest: the key itself is never stored.
    pub key: &'a str,
    pub digest: &'a str,
}

/// What a key says of a request.
pub enum Claim {
    /// The key is this request's now: run it, then `finish` or `release` the claim.
    Fresh(Uuid),
    /// The request ran before under this key: its stored (sealed) answer.
    Replay { status: u16, answer: String },
}

/// Claims `request`'s key at `now`, or finds what it already holds: the stored answer of the
/// same request, or a refusal (the key is another request's, or the first is still running).
pub async fn claim(
    db: &DatabaseConnection,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
) -> AppResult<Claim> {
    // A claim released between our insert and our read is claimed again on the next turn.
    for _ in 0..3 {
        if let Some(id) = insert(db, request, now).await? {
            return Ok(Claim::Fresh(id));
        }
        let held: Option<(String, String, Option<i32>, Option<String>)> = IdempotencyKeys::find()
            .select_only()
            .columns([
                Column::RequestDigest,
                Column::State,
                Column::StatusCode,
                Column::Answer,
            ])
            .filter(Column::Caller.eq(request.caller))
            .filter(Column::Key.eq(request.key))
            .into_tuple()
            .one(db)
            .await?;
        let Some((digest, state, status, answer)) = held else {
            continue;
        };
        if digest != request.digest {
            return Err(AppError::IdempotencyKeyMismatch);
        }
        return match (state.as_str(), status, answer) {
            (DONE, Some(status), Some(answer)) => Ok(Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                answer,
            }),
            _ => Err(AppError::from(ConflictReason::IdempotencyKeyInFlight)),
        };
    }
    Err(AppError::from(ConflictReason::IdempotencyKeyInFlight))
}

/// Inserts the claim, or takes over the key's row when it has expired, or when the same request
/// claimed it and was lost; the id of the claim when it is ours.
async fn insert(
    db: &DatabaseConnection,
    request: &KeyedRequest<'_>,
    now: DateTime<Utc>,
) -> AppResult<Option<Uuid>> {
    let id = Uuid::now_v7();
    let held = |column: Column| Expr::col((IdempotencyKeys, column));
    let offered = |column: Column| Expr::col((Alias::new("excluded"), column));
    let expired = held(Column::CreatedAt).lt(at(now - KEPT));
    let lost = held(Column::State)
        .eq(RUNNING)
        .and(held(Column::LeaseUntil).lt(at(now)))
        .and(held(Column::RequestDigest).eq(offered(Column::RequestDigest)));
    // What a claim writes besides the key itself; all of it is replaced when a claim takes over.
    let claim = [
        Column::Id,
        Column::RequestDigest,
        Column::State,
        Column::StatusCode,
        Column::Answer,
        Column::CreatedAt,
        Column::LeaseUntil,
    ];
    let statement = Query::insert()
        .into_table(IdempotencyKeys)
        .columns([Column::Caller, Column::Key].into_iter().chain(claim))
        .values([
            request.caller.into(),
            request.key.into(),
            id.into(),
            request.digest.into(),
            RUNNING.into(),
            Option::<i32>::None.into(),
            Option::<String>::None.into(),
            at(now).into(),
            at(now + LEASE).into(),
        ])
        .map_err(AppError::internal)?
        .on_conflict(
            OnConflict::columns([Column::Caller, Column::Key])
                .update_columns(claim)
                .action_and_where(expired.or(lost))
                .to_owned(),
        )
        .returning_col(Column::Id)
        .to_owned();
    let claimed = db
        .query_one_raw(db.get_database_backend().build(&statement))
        .await?;
    Ok(match claimed {
        Some(row) => Some(row.try_get::<Uuid>("", "id")?),
        None => None,
    })
}

fn at(time: DateTime<Utc>) -> sea_orm::prelude::DateTimeWithTimeZone {
    time.fixed_offset()
}

/// Keeps the answer of the claimed request.
pub async fn finish(
    db: &impl ConnectionTrait,
    claim: Uuid,
    status: u16,
    answer: String,
) -> AppResult<()> {
    IdempotencyKeys::update_many()
        .col_expr(Column::State, Expr::val(DONE))
        .col_expr(Column::StatusCode, Expr::val(i32::from(status)))
        .col_expr(Column::Answer, Expr::val(answer))
        .filter(idempotency_keys::Column::Id.eq(claim))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives the key up: the request did not get an answer worth keeping (the database was out of
/// reach, say), so a retry runs it.
pub async fn release(db: &impl ConnectionTrait, claim: Uuid) -> AppResult<()> {
    IdempotencyKeys::delete_many()
        .filter(Column::Id.eq(claim))
        .exec(db)
        .await?;
    Ok(())
}
