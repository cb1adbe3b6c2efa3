//! What every dataloader shares: one statement per batch (`= ANY` of an array on PostgreSQL)
//! and a cloneable error.

use crate::error::AppError;
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Order, PostgresQueryBuilder, Query,
    SelectStatement,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic, Iterable,
    QueryFilter, Statement,
};
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

/// `column` is one of `keys`. On PostgreSQL `= ANY($1)` with the keys as one array: one
/// prepared statement serves every batch, where an `IN` list is a statement of its own for each
/// number of keys (and PostgreSQL plans each anew). Elsewhere `IN`.
pub fn one_of<C: ColumnTrait>(backend: DbBackend, column: C, keys: &[Uuid]) -> Expr {
    if backend == DbBackend::Postgres {
        Expr::col((column.entity_name(), column)).eq(PgFunc::any(Expr::val(keys.to_vec())))
    } else {
        column.is_in(keys.iter().copied())
    }
}

/// All rows of `E` whose `column` is one of `keys`, in one statement.
pub async fn fetch_in<E: EntityTrait>(
    db: &DatabaseConnection,
    column: E::Column,
    keys: &[Uuid],
) -> Result<Vec<E::Model>, LoaderError> {
    Ok(E::find()
        .filter(one_of(db.get_database_backend(), column, keys))
        .all(db)
        .await?)
}

/// One edge of a one-to-many relation, capped: the rows of `E` whose `key` is one of `keys` and
/// that meet `only`, at most `cap` for each key, each key's ordered by `order` (ascending or
/// not), in one statement. A relation field never answers more than a page, however many rows
/// there are.
pub struct CappedEdge<E: EntityTrait> {
    pub key: E::Column,
    pub order: E::Column,
    pub descending: bool,
    pub only: Condition,
    pub cap: u64,
}

impl<E: EntityTrait> CappedEdge<E> {
    pub async fn fetch(
        &self,
        db: &DatabaseConnection,
        keys: &[Uuid],
    ) -> Result<Vec<E::Model>, LoaderError> {
        let statement = if db.get_database_backend() == DbBackend::Postgres {
            self.lateral(keys)
        } else {
            self.ranked(db.get_database_backend(), keys)
        };
        Ok(E::find().from_raw_sql(statement).all(db).await?)
    }

    fn order(&self) -> Order {
        if self.descending {
            Order::Desc
        } else {
            Order::Asc
        }
    }

    /// PostgreSQL: for each key (one array parameter, each key once), its first `cap` rows read
    /// in order from the (key, order) index and no further. A window over every key's rows
    /// would read them all and sort them; this reads what it answers.
    fn lateral(&self, keys: &[Uuid]) -> Statement {
        let mut unique = keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut per_key = Query::select();
        per_key.column(Asterisk);
        let (per_key, mut values) = self
            .for_key(per_key, "edge_keys.key")
            .build(PostgresQueryBuilder);
        values.0.push(unique.into());
        let sql = format!(
            "SELECT edge.* FROM unnest(${}::uuid[]) AS edge_keys(key) \
             CROSS JOIN LATERAL ({per_key}) AS edge",
            values.0.len()
        );
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    /// PostgreSQL: the edge as a subquery of a statement shaped elsewhere (`shaped`): the
    /// `columns` of its rows for the one key `{parent}` (a placeholder for a column of the
    /// enclosing query), in order, capped, with its constants written in.
    pub fn correlated(&self, columns: &[&str]) -> String {
        let mut rows = Query::select();
        for column in columns {
            rows.column(Alias::new(*column));
        }
        self.for_key(rows, "{parent}")
            .to_string(PostgresQueryBuilder)
    }

    /// `select` reading the edge's rows for the one key `key` (an SQL expression), in order,
    /// capped.
    fn for_key(&self, mut select: SelectStatement, key: &'static str) -> SelectStatement {
        select
            .from(E::default())
            .cond_where(
                self.only
                    .clone()
                    .add(Expr::col((E::default(), self.key)).eq(Expr::cust(key))),
            )
            .order_by(self.order, self.order())
            .limit(self.cap)
            .to_owned()
    }

    /// Elsewhere: every key's rows ranked in one window, the first `cap` of each kept.
    fn ranked(&self, backend: DbBackend, keys: &[Uuid]) -> Statement {
        let direction = if self.descending { "DESC" } else { "ASC" };
        let rank = Alias::new("edge_rank");
        let ranked = Query::select()
            .column(Asterisk)
            .expr_as(
                Expr::cust(format!(
                    "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {} {direction})",
                    self.key.as_str(),
                    self.order.as_str()
                )),
                rank.clone(),
            )
            .from(E::default())
            .cond_where(self.only.clone().add(one_of(backend, self.key, keys)))
            .to_owned();
        let capped = Query::select()
            .columns(E::Column::iter().map(|c| Alias::new(c.as_str())))
            .from_subquery(ranked, Alias::new("ranked"))
            .and_where(Expr::col(rank).lte(self.cap))
            // The window's own order (key, then the edge's order), which an index on
            // (key, order) gives as read: no sort at all. Only each key's order matters.
            .order_by(Alias::new(self.key.as_str()), Order::Asc)
            .order_by(Alias::new(self.order.as_str()), self.order())
            .to_owned();
        backend.build(&capped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn batches_are_one_array_parameter_on_postgres() {
        let keys = [Uuid::now_v7(), Uuid::now_v7()];
        let query = entity::users::Entity::find()
            .filter(entity::users::Column::Role.eq("developer"))
            .filter(one_of(
                DbBackend::Postgres,
                entity::users::Column::Id,
                &keys,
            ))
            .build(DbBackend::Postgres);
        assert!(
            query.sql.ends_with(r#""users"."id" = ANY($2)"#),
            "{}",
            query.sql
        );
    }
}
