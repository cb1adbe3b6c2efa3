//! Subscriptions, invoices and transactions as their owners read them: a developer its own,
//! admins everyone's or one developer's. Newest first, a page at a time, each list served by
//! its `(developer_id, id)` index (or the primary key for admins).

use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::paging::{self, Page, PageArgs};
use crate::total_count::{self, Count};
use entity::{invoices, subscriptions, transactions};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

/// Whose rows the request reads: a developer its own (naming another is NOT_FOUND), an admin
/// everyone's (`None`) or the developer it names.
pub fn scope(actor: &Actor, developer_id: Option<Uuid>) -> AppResult<Option<Uuid>> {
    match (actor.require_user()?, developer_id) {
        ((_, Role::Admin), named) => Ok(named),
        ((me, Role::Developer), named) if named.is_none_or(|id| id == me) => Ok(Some(me)),
        ((_, Role::Developer), _) => Err(AppError::NotFound("developer")),
        ((_, Role::Member), _) => Err(AppError::Forbidden(
            "billing is the team's developer's to read",
        )),
    }
}

/// One kind of billing row, listed the same way.
pub trait Listed: EntityTrait {
    fn developer() -> Self::Column;
    fn id() -> Self::Column;
}

impl Listed for subscriptions::Entity {
    fn developer() -> Self::Column {
        subscriptions::Column::DeveloperId
    }
    fn id() -> Self::Column {
        subscriptions::Column::Id
    }
}

impl Listed for invoices::Entity {
    fn developer() -> Self::Column {
        invoices::Column::DeveloperId
    }
    fn id() -> Self::Column {
        invoices::Column::Id
    }
}

impl Listed for transactions::Entity {
    fn developer() -> Self::Column {
        transactions::Column::DeveloperId
    }
    fn id() -> Self::Column {
        transactions::Column::Id
    }
}

fn of<E: Listed>(developer: Option<Uuid>) -> Select<E> {
    match developer {
        Some(id) => E::find().filter(E::developer().eq(id)),
        None => E::find(),
    }
}

pub async fn page<E: Listed>(
    actor: &Actor,
    developer: Option<Uuid>,
    page: &PageArgs,
) -> AppResult<Page<E::Model>>
where
    E::Model: Sync,
{
    let mut query = of::<E>(developer).order_by_desc(E::id());
    if let Some(after) = page.after_id() {
        query = query.filter(E::id().lt(after));
    }
    paging::fetch(&actor.app.db, query, page).await
}

pub async fn count<E: Listed>(actor: &Actor, developer: Option<Uuid>) -> AppResult<Count>
where
    E::Model: Sync,
{
    total_count::count(&actor.app, of::<E>(developer)).await
}
