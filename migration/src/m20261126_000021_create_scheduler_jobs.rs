use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SchedulerJobs {
    Table,
    Name,
    NextRunAt,
    LeaseUntil,
    LeasedBy,
    LastStartedAt,
    LastFinishedAt,
    LastDurationMs,
    LastRows,
    LastError,
    Runs,
}

/// The scheduler's jobs, one row each: when each is next due, which gateway holds it while it
/// runs (a lease, so gateways sharing the database never run one job at once), and how its last
/// run went. The licenses' time rules get partial indexes over the deadlines they look for.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SchedulerJobs::Table)
                    .col(text(SchedulerJobs::Name).primary_key())
                    .col(timestamp(SchedulerJobs::NextRunAt))
                    .col(timestamp_null(SchedulerJobs::LeaseUntil))
                    .col(uuid_ref_null(SchedulerJobs::LeasedBy))
                    .col(timestamp_null(SchedulerJobs::LastStartedAt))
                    .col(timestamp_null(SchedulerJobs::LastFinishedAt))
                    .col(
                        ColumnDef::new(SchedulerJobs::LastDurationMs)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(SchedulerJobs::LastRows).big_integer().null())
                    .col(text_null(SchedulerJobs::LastError))
                    .col(
                        ColumnDef::new(SchedulerJobs::Runs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [
            "CREATE INDEX licenses_trial_due_idx ON licenses (trial_ends_at) \
             WHERE state = 'trialing'",
            "CREATE INDEX licenses_grace_due_idx ON licenses (grace_ends_at) \
             WHERE state IN ('grace', 'past_due')",
            "CREATE INDEX licenses_expiry_due_idx ON licenses (expires_at) \
             WHERE state IN ('trialing', 'active', 'grace', 'past_due')",
        ] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "licenses_trial_due_idx",
            "licenses_grace_due_idx",
            "licenses_expiry_due_idx",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {index}"))
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SchedulerJobs::Table).to_owned())
            .await
    }
}
