use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    EventType,
    ActorId,
    ActorType,
    EntityType,
    EntityId,
    Metadata,
    Ip,
    UserAgent,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id_pk(AuditEvents::Id))
                    .col(text(AuditEvents::EventType))
                    .col(uuid_ref_null(AuditEvents::ActorId))
                    .col(text(AuditEvents::ActorType))
                    .col(text(AuditEvents::EntityType))
                    .col(uuid_ref_null(AuditEvents::EntityId))
                    .col(ColumnDef::new(AuditEvents::Metadata).json().not_null())
                    .col(text_null(AuditEvents::Ip))
                    .col(text_null(AuditEvents::UserAgent))
                    .col(timestamp(AuditEvents::CreatedAt))
                    .check(one_of(
                        "actor_type",
                        &["user", "system", "license", "partner"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_entity_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::EntityType)
                    .col(AuditEvents::EntityId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_actor_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ActorId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_created_idx")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
