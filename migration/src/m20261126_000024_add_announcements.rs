use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RuntimeNodes {
    Table,
    DeadAnnouncedAt,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    ExpiringAnnouncedAt,
}

/// What the scheduler announces once: a runtime node that stopped checking in (cleared when it
/// comes back), a license entering its expiring window (cleared when its expiry moves). The
/// nodes' deadlines get a partial index for the scheduler to find the late ones.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RuntimeNodes::Table)
                    .add_column(
                        ColumnDef::new(RuntimeNodes::DeadAnnouncedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Licenses::Table)
                    .add_column(
                        ColumnDef::new(Licenses::ExpiringAnnouncedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX runtime_nodes_deadline_idx ON runtime_nodes (heartbeat_deadline_at) \
                 WHERE status = 'active'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX runtime_nodes_deadline_idx")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Licenses::Table)
                    .drop_column(Licenses::ExpiringAnnouncedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RuntimeNodes::Table)
                    .drop_column(RuntimeNodes::DeadAnnouncedAt)
                    .to_owned(),
            )
            .await
    }
}
