use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DatabasePools {
    Table,
    Id,
    Host,
    Region,
    MaxDatabases,
    CurrentDatabases,
    AlertThreshold,
    Status,
    StorageUsedBytes,
    StorageTotalBytes,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DatabasePools::Table)
                    .col(id_pk(DatabasePools::Id))
                    .col(text(DatabasePools::Host))
                    .col(text(DatabasePools::Region))
                    .col(
                        ColumnDef::new(DatabasePools::MaxDatabases)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DatabasePools::CurrentDatabases)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DatabasePools::AlertThreshold)
                            .double()
                            .not_null(),
                    )
                    .col(text(DatabasePools::Status))
                    .col(
                        ColumnDef::new(DatabasePools::StorageUsedBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DatabasePools::StorageTotalBytes)
                            .big_integer()
                            .null(),
                    )
                    .col(timestamp(DatabasePools::CreatedAt))
                    .col(timestamp(DatabasePools::UpdatedAt))
                    // Capacity is the database's rule: no code path can overfill a pool.
                    .check(Expr::cust(
                        "current_databases >= 0 AND current_databases <= max_databases",
                    ))
                    .check(Expr::cust("alert_threshold > 0 AND alert_threshold <= 1"))
                    .check(one_of("status", &["active", "draining", "offline"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("database_pools_host_key")
                    .table(DatabasePools::Table)
                    .col(DatabasePools::Host)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DatabasePools::Table).to_owned())
            .await
    }
}
