use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InstanceTokens {
    Table,
    Id,
    InstanceId,
    TokenHash,
    Prefix,
    Name,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum InstanceLogs {
    Table,
    Id,
    InstanceId,
    Level,
    Message,
    Context,
    LoggedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
}

/// Credentials an instance presents to write its own logs, and the logs themselves.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InstanceTokens::Table)
                    .col(id_pk(InstanceTokens::Id))
                    .col(uuid_ref(InstanceTokens::InstanceId))
                    // An HMAC digest under a server secret: the token itself is never stored.
                    .col(text(InstanceTokens::TokenHash))
                    .col(text(InstanceTokens::Prefix))
                    .col(text(InstanceTokens::Name))
                    .col(timestamp(InstanceTokens::CreatedAt))
                    .col(timestamp_null(InstanceTokens::LastUsedAt))
                    .col(timestamp_null(InstanceTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("instance_tokens_instance_fk")
                            .from(InstanceTokens::Table, InstanceTokens::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_tokens_token_hash_key")
                    .table(InstanceTokens::Table)
                    .col(InstanceTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_tokens_instance_idx")
                    .table(InstanceTokens::Table)
                    .col(InstanceTokens::InstanceId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InstanceLogs::Table)
                    .col(id_pk(InstanceLogs::Id))
                    .col(uuid_ref(InstanceLogs::InstanceId))
                    .col(text(InstanceLogs::Level))
                    .col(text(InstanceLogs::Message))
                    .col(ColumnDef::new(InstanceLogs::Context).json().null())
                    .col(timestamp(InstanceLogs::LoggedAt))
                    .col(timestamp(InstanceLogs::CreatedAt))
                    .check(one_of("level", &["debug", "info", "warn", "error"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("instance_logs_instance_fk")
                            .from(InstanceLogs::Table, InstanceLogs::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Logs are read per instance, newest first, paged by (logged_at, id): the id settles
        // ties so a page boundary never skips or repeats a line.
        manager
            .create_index(
                Index::create()
                    .name("instance_logs_instance_logged_idx")
                    .table(InstanceLogs::Table)
                    .col(InstanceLogs::InstanceId)
                    .col(InstanceLogs::LoggedAt)
                    .col(InstanceLogs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InstanceLogs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(InstanceTokens::Table).to_owned())
            .await
    }
}
