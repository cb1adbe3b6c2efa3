//! When a stored token (an instance's, a partner's) was last presented: a hint for spotting
//! stale tokens, not a request log, so it is written at most once a `USE_RESOLUTION`, and a busy
//! client does not turn every read into a write.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

const USE_RESOLUTION: Duration = Duration::minutes(1);

/// The columns of a token table this needs.
pub struct UseColumns<E: EntityTrait> {
    pub id: E::Column,
    pub last_used_at: E::Column,
}

/// Records that the token `token_id`, last used at `last_used`, was presented `now`, when that
/// is a resolution or more later. Best effort: a failed bookkeeping write must not refuse a valid
/// token.
pub async fn note_use<E: EntityTrait>(
    db: &DatabaseConnection,
    columns: UseColumns<E>,
    token_id: Uuid,
    last_used: Option<DateTime<FixedOffset>>,
    now: DateTime<Utc>,
) {
    if last_used.is_some_and(|used| now.signed_duration_since(used) < USE_RESOLUTION) {
        return;
    }
    let cutoff = (now - USE_RESOLUTION).fixed_offset();
    let noted = E::update_many()
        .col_expr(columns.last_used_at, Expr::value(now.fixed_offset()))
        .filter(columns.id.eq(token_id))
        // Concurrent requests with one token settle here; only one of them writes.
        .filter(
            Condition::any()
                .add(columns.last_used_at.is_null())
                .add(columns.last_used_at.lt(cutoff)),
        )
        .exec(db)
        .await;
    if let Err(err) = noted {
        tracing::warn!(error = ?err, %token_id, table = E::default().table_name(), "could not record a token's use");
    }
}
