//! The `licenses` connection: filters, sorts, search and paging. Developers see their own,
//! members the licenses they hold a seat on.

use super::model::{LicenseFilter, LicenseOrder, LicenseOrderField, OrderDirection};
use crate::auth::{Actor, Caller, Role};
use crate::domain::seats::model::AssignmentStatus;
use crate::error::AppResult;
use crate::paging::{self, Page, PageArgs};
use entity::{license_assignments, licenses, plans, prelude::*};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    Select,
};

const UTILIZATION: &str = "CASE WHEN licenses.seats_total > 0 THEN licenses.seats_used * 1.0 / licenses.seats_total ELSE 0 END";

fn search_condition(backend: DbBackend, text: &str) -> Condition {
    let on_plan = Query::select()
        .column(plans::Column::Id)
        .from(plans::Entity)
        .and_where(
            Expr::col(plans::Column::Code)
                .like(format!("%{}%", text.to_lowercase()))
                .or(Expr::col(plans::Column::Name).like(format!("%{text}%"))),
        )
        .to_owned();
    let by_plan = licenses::Column::PlanId.in_subquery(on_plan);
    let by_text = if backend == DbBackend::Postgres {
        // Same expression as the GIN index, so the index serves it.
        Expr::cust_with_values(
            format!(
                "{} @@ plainto_tsquery('simple', $1)",
                migration::SEARCH_DOCUMENT
            ),
            [text.to_owned()],
        )
    } else {
        let pattern = format!("%{text}%");
        Expr::col(licenses::Column::KeyPrefix)
            .like(pattern.to_uppercase())
            .or(Expr::col(licenses::Column::Dba).like(pattern.clone()))
            .or(Expr::col(licenses::Column::Product).like(pattern))
    };
    Condition::any().add(by_text).add(by_plan)
}

fn matching(
    backend: DbBackend,
    caller: &Caller,
    filter: &LicenseFilter,
) -> AppResult<Select<Licenses>> {
    let mut condition = Condition::all();
    match caller.require_user()? {
        (_, Role::Admin) => {}
        (id, Role::Developer) => condition = condition.add(licenses::Column::DeveloperId.eq(id)),
        // A member's list is the licenses it holds a seat on, as the visibility rule has it.
        (id, Role::Member) => {
            let seated = Query::select()
                .column(license_assignments::Column::LicenseId)
                .from(license_assignments::Entity)
                .and_where(Expr::col(license_assignments::Column::UserId).eq(id))
                .and_where(
                    Expr::col(license_assignments::Column::Status)
                        .eq(AssignmentStatus::Active.as_str()),
                )
                .to_owned();
            condition = condition.add(licenses::Column::Id.in_subquery(seated));
        }
    }
    if let Some(state) = filter.state {
        condition = condition.add(licenses::Column::State.eq(state.as_str()));
    }
    if let Some(payment) = filter.payment_state {
        condition = condition.add(licenses::Column::PaymentState.eq(payment.as_str()));
    }
    if let Some(term) = filter.term {
        condition = condition.add(licenses::Column::Term.eq(term.as_str()));
    }
    if let Some(product) = &filter.product {
        condition = condition.add(licenses::Column::Product.eq(product.as_str()));
    }
    if let Some(developer) = filter.developer_id {
        condition = condition.add(licenses::Column::DeveloperId.eq(developer));
    }
    if let Some(code) = &filter.plan_code {
        let plan = Query::select()
            .column(plans::Column::Id)
            .from(plans::Entity)
            .and_where(Expr::col(plans::Column::Code).eq(code.trim().to_lowercase()))
            .to_owned();
        condition = condition.add(licenses::Column::PlanId.in_subquery(plan));
    }
    if let Some(before) = filter.expiring_before {
        condition = condition.add(licenses::Column::ExpiresAt.lt(before.fixed_offset()));
    }
    if let Some(after) = filter.created_after {
        condition = condition.add(licenses::Column::CreatedAt.gte(after.fixed_offset()));
    }
    if let Some(before) = filter.created_before {
        condition = condition.add(licenses::Column::CreatedAt.lt(before.fixed_offset()));
    }
    if let Some(text) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        condition = condition.add(search_condition(backend, text));
    }
    Ok(Licenses::find().filter(condition))
}

/// One page (by position) and whether more follow.
pub async fn page(
    actor: &Actor,
    filter: &LicenseFilter,
    sort: &LicenseOrder,
    page: &PageArgs,
) -> AppResult<Page<licenses::Model>> {
    let db = &actor.app.db;
    let order = match sort.direction {
        OrderDirection::Asc => Order::Asc,
        OrderDirection::Desc => Order::Desc,
    };
    let query = matching(db.get_database_backend(), actor, filter)?;
    let query = match sort.field {
        LicenseOrderField::CreatedAt => query.order_by(licenses::Column::Id, order.clone()),
        LicenseOrderField::ExpiresAt => query.order_by(licenses::Column::ExpiresAt, order.clone()),
        LicenseOrderField::Utilization => query.order_by(Expr::cust(UTILIZATION), order.clone()),
    }
    .order_by(licenses::Column::Id, order);
    paging::fetch(db, query, page).await
}

pub async fn count(actor: &Actor, filter: &LicenseFilter) -> AppResult<u64> {
    let db = &actor.app.db;
    Ok(matching(db.get_database_backend(), actor, filter)?
        .count(db)
        .await?)
}
