use crate::columns::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Number,
    AttemptedAt,
    StatusCode,
    LatencyMs,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    OwnerId,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Every attempt of a delivery as it was made, kept while the delivery is.
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(id_pk(WebhookAttempts::Id))
                    .col(uuid_ref(WebhookAttempts::DeliveryId))
                    // The delivery's attempt count when it was made: 1 for the first.
                    .col(ColumnDef::new(WebhookAttempts::Number).integer().not_null())
                    .col(timestamp(WebhookAttempts::AttemptedAt))
                    .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                    .col(ColumnDef::new(WebhookAttempts::LatencyMs).integer().null())
                    // Why it failed, in our words; null when it succeeded.
                    .col(text_null(WebhookAttempts::Error))
                    .check(Expr::cust("number >= 1"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_attempts_delivery_fk")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per attempt number; a delivery's attempts newest first, read as stored.
        manager
            .create_index(
                Index::create()
                    .name("webhook_attempts_delivery_key")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .col(WebhookAttempts::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        owner_column(manager).await?;
        // A developer's deliveries across its endpoints newest first, optionally of one
        // status, read in order from one index (not every delivery filtered by endpoint);
        // everyone's of one status (an admin's listing).
        for (name, columns) in [
            (
                "webhook_deliveries_owner_idx",
                &[WebhookDeliveries::OwnerId, WebhookDeliveries::Id][..],
            ),
            (
                "webhook_deliveries_owner_status_idx",
                &[
                    WebhookDeliveries::OwnerId,
                    WebhookDeliveries::Status,
                    WebhookDeliveries::Id,
                ][..],
            ),
            (
                "webhook_deliveries_status_idx",
                &[WebhookDeliveries::Status, WebhookDeliveries::Id][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(WebhookDeliveries::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "webhook_deliveries_status_idx",
            "webhook_deliveries_owner_status_idx",
            "webhook_deliveries_owner_idx",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(WebhookDeliveries::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .drop_column(WebhookDeliveries::OwnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookAttempts::Table).to_owned())
            .await
    }
}

/// `webhook_deliveries.owner_id`: the owner of the delivery's endpoint (which never changes
/// hands), filled in for the deliveries already written. SQLite adds a NOT NULL column only
/// with a default, which every row then overwrites.
async fn owner_column(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let postgres = manager.get_database_backend() == DbBackend::Postgres;
    let mut column = ColumnDef::new(WebhookDeliveries::OwnerId);
    column.uuid();
    if !postgres {
        column
            .not_null()
            .default(Expr::cust("X'00000000000000000000000000000000'"));
    }
    manager
        .alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .add_column(column)
                .to_owned(),
        )
        .await?;
    db.execute_unprepared(
        "UPDATE webhook_deliveries SET owner_id = (SELECT e.owner_id FROM webhook_endpoints e \
         WHERE e.id = webhook_deliveries.endpoint_id)",
    )
    .await?;
    if postgres {
        db.execute_unprepared("ALTER TABLE webhook_deliveries ALTER COLUMN owner_id SET NOT NULL")
            .await?;
    }
    Ok(())
}
