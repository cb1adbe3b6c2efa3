use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Caller,
    Key,
    RequestDigest,
    State,
    StatusCode,
    Answer,
    CreatedAt,
    LeaseUntil,
}

/// Mutations sent with an `Idempotency-Key` header: the first request's answer, kept for a day
/// under the caller and key, so that a retry answers it again instead of acting twice.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    // Time-ordered and renewed when an expired key is used again, so the
                    // retention job deletes old keys by a range of the primary key.
                    .col(id_pk(IdempotencyKeys::Id))
                    // Who sent it (`user:<id>`, `token:<id>`, `license:<id>`, `instance:<id>`):
                    // one caller's key never answers another's request.
                    .col(text(IdempotencyKeys::Caller))
                    .col(text(IdempotencyKeys::Key))
                    // SHA-256 of the operations, names and variables: the same key with
                    // another request is refused.
                    .col(text(IdempotencyKeys::RequestDigest))
                    .col(text(IdempotencyKeys::State).check(one_of("state", &["running", "done"])))
                    .col(ColumnDef::new(IdempotencyKeys::StatusCode).integer().null())
                    .col(ColumnDef::new(IdempotencyKeys::Answer).text().null())
                    .col(timestamp(IdempotencyKeys::CreatedAt))
                    // A request still running past this is taken for lost (its gateway
                    // stopped): the same request may then claim the key again.
                    .col(timestamp(IdempotencyKeys::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_caller_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::Caller)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
