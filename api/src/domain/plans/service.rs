//! Plans and their entitlements: public catalogue reads (the latest version of each plan).

use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use entity::{plans, prelude::*};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// The latest version of each plan, cheapest first: those on sale, and for admins the retired
/// ones too.
pub async fn list(actor: &Actor) -> AppResult<Vec<plans::Model>> {
    let mut query = Plans::find()
        .filter(plans::Column::Latest.eq(true))
        .order_by_asc(plans::Column::PriceMinor);
    if !actor.is_admin() {
        query = query.filter(plans::Column::Active.eq(true));
    }
    Ok(query.all(&actor.app.db).await?)
}

/// The latest version of the plan with this code.
pub async fn by_code(conn: &impl ConnectionTrait, code: &str) -> AppResult<Option<plans::Model>> {
    Ok(Plans::find()
        .filter(plans::Column::Code.eq(code.trim().to_lowercase()))
        .filter(plans::Column::Latest.eq(true))
        .one(conn)
        .await?)
}

/// The plan a new account may sign up for: it must exist and be on sale.
pub async fn purchasable(conn: &impl ConnectionTrait, code: &str) -> AppResult<plans::Model> {
    match by_code(conn, code).await? {
        Some(plan) if plan.active => Ok(plan),
        Some(_) => Err(AppError::validation(
            "planCode",
            "this plan is no longer offered",
        )),
        None => Err(AppError::validation("planCode", "no plan has this code")),
    }
}
