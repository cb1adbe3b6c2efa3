use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `failedWebhooks` pages the dead letters newest first: a partial index over their ids serves
/// it without reading the handled events, however many there are.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_events_failed_idx ON webhook_events (id) \
                 WHERE status = 'failed'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX webhook_events_failed_idx")
            .await?;
        Ok(())
    }
}
