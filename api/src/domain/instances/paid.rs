//! Dedicated servers are paid for before they are provisioned: a dedicated-tier instance
//! created before its developer has paid waits (`waiting_for_capacity`, with no pool), and the
//! payment that makes the license paid (its first paid invoice, or its subscription turning
//! active) starts provisioning it, by the platform, in the unit of work that records the
//! payment. An admin then completes it (`completeProvisioning`).

use super::changes::{HistoryLine, change, write_history};
use super::model::InstanceStatus;
use crate::domain::licenses::model::PaymentState;
use crate::domain::plans::model::DbType;
use crate::error::AppResult;
use crate::events::UnitOfWork;
use entity::{instances, licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

const WAITING: &str = InstanceStatus::WaitingForCapacity.as_str();

/// Whether the developer pays for a license now.
pub async fn has_paid(conn: &impl ConnectionTrait, developer_id: Uuid) -> AppResult<bool> {
    let paying = Licenses::find()
        .filter(licenses::Column::DeveloperId.eq(developer_id))
        .filter(licenses::Column::PaymentState.eq(PaymentState::Active.as_str()))
        .count(conn)
        .await?;
    Ok(paying > 0)
}

/// Starts provisioning every dedicated instance of the developer that waits for payment;
/// answers how many.
pub async fn provision_paid(uow: &mut UnitOfWork<'_>, developer_id: Uuid) -> AppResult<usize> {
    let now = uow.actor().now;
    let started = Instances::update_many()
        .col_expr(
            instances::Column::Status,
            Expr::value(InstanceStatus::Provisioning.as_str()),
        )
        .col_expr(
            instances::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        )
        .filter(instances::Column::DeveloperId.eq(developer_id))
        .filter(instances::Column::Tier.eq(DbType::Dedicated.as_str()))
        .filter(instances::Column::Status.eq(WAITING))
        .exec_with_returning(&**uow)
        .await?;
    for instance in &started {
        let line = HistoryLine {
            kind: "instance.provisioning_started",
            from: Some(WAITING),
            to: InstanceStatus::Provisioning.as_str(),
            message: Some("the plan is paid for: its server is being provisioned".to_owned()),
        };
        write_history(&**uow, instance.id, line, now).await?;
        let metadata = json!({ "from": WAITING, "to": "provisioning", "rule": "payment" });
        uow.record(change("instance.provisioning_started", instance, metadata).by_platform())
            .await?;
    }
    Ok(started.len())
}
