use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EventLog {
    Table,
    Position,
    Kind,
    EntityId,
    DeveloperId,
    Data,
    OccurredAt,
}

#[derive(DeriveIden)]
enum EventLogState {
    Table,
    Id,
    PrunedThrough,
}

/// The durable event log: every published change, one row each, in the transaction that made
/// it, numbered by an increasing position that subscribers resume from. NOTIFY only wakes the
/// gateways, which read the rows after the last position they delivered, so a payload has no
/// size limit and nothing is lost while a listener is away. `event_log_state` remembers the
/// highest position pruned by retention: a cursor below it cannot be resumed.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventLog::Table)
                    .col(
                        ColumnDef::new(EventLog::Position)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(text(EventLog::Kind))
                    .col(uuid_ref(EventLog::EntityId))
                    .col(uuid_ref_null(EventLog::DeveloperId))
                    .col(ColumnDef::new(EventLog::Data).json().not_null())
                    .col(timestamp(EventLog::OccurredAt))
                    .to_owned(),
            )
            .await?;
        // A developer's events in order, for its subscriptions' replays.
        manager
            .create_index(
                Index::create()
                    .name("event_log_developer_idx")
                    .table(EventLog::Table)
                    .col(EventLog::DeveloperId)
                    .col(EventLog::Position)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventLogState::Table)
                    .col(
                        ColumnDef::new(EventLogState::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(EventLogState::PrunedThrough)
                            .big_integer()
                            .not_null(),
                    )
                    .check(Expr::cust("id = 1"))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("INSERT INTO event_log_state (id, pruned_through) VALUES (1, 0)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventLogState::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EventLog::Table).to_owned())
            .await
    }
}
