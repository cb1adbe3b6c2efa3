//! What every dataloader shares: one `IN (...)` query per batch and a cloneable error.

use crate::error::AppError;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// A batch failure, shared by every field that waited on the batch (loaders need `Clone`).
#[derive(Clone, Debug)]
pub struct LoaderError(Arc<DbErr>);

impl From<DbErr> for LoaderError {
    fn from(err: DbErr) -> Self {
        Self(Arc::new(err))
    }
}

impl From<LoaderError> for AppError {
    /// Mapped like any database error (an outage is SERVICE_UNAVAILABLE), with the batch named
    /// when it is internal.
    fn from(err: LoaderError) -> Self {
        match AppError::from(DbErr::clone(&err.0)) {
            AppError::Internal(_) => {
                AppError::internal(anyhow::anyhow!("batch load failed: {:?}", err.0))
            }
            other => other,
        }
    }
}

impl From<LoaderError> for async_graphql::Error {
    fn from(err: LoaderError) -> Self {
        AppError::from(err).into()
    }
}

/// Rows gathered under the key each belongs to, for one-to-many edges.
pub fn group_by<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut groups: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

/// All rows of `E` whose `column` is one of `keys`, in one statement.
pub async fn fetch_in<E: EntityTrait>(
    db: &DatabaseConnection,
    column: E::Column,
    keys: &[Uuid],
) -> Result<Vec<E::Model>, LoaderError> {
    Ok(E::find()
        .filter(column.is_in(keys.iter().copied()))
        .all(db)
        .await?)
}
