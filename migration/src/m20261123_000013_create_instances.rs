use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    DeveloperId,
    Name,
    Subdomain,
    Region,
    Tier,
    Status,
    PoolId,
    DatabaseName,
    DatabaseUser,
    DatabaseHost,
    FailureReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstanceEvents {
    Table,
    Id,
    InstanceId,
    EventType,
    FromStatus,
    ToStatus,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DatabasePools {
    Table,
    Id,
}

const STATUSES: &[&str] = &[
    "provisioning",
    "waiting_for_capacity",
    "running",
    "suspended",
    "error",
    "deleting",
    "deleted",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(id_pk(Instances::Id))
                    .col(uuid_ref(Instances::DeveloperId))
                    .col(text(Instances::Name))
                    .col(text(Instances::Subdomain))
                    .col(text(Instances::Region))
                    .col(text(Instances::Tier))
                    .col(text(Instances::Status))
                    .col(uuid_ref_null(Instances::PoolId))
                    .col(text(Instances::DatabaseName))
                    .col(text(Instances::DatabaseUser))
                    .col(text_null(Instances::DatabaseHost))
                    .col(text_null(Instances::FailureReason))
                    .col(timestamp(Instances::CreatedAt))
                    .col(timestamp(Instances::UpdatedAt))
                    .check(one_of("tier", &["shared", "dedicated"]))
                    .check(one_of("status", STATUSES))
                    .foreign_key(
                        ForeignKey::create()
                            .name("instances_developer_fk")
                            .from(Instances::Table, Instances::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("instances_pool_fk")
                            .from(Instances::Table, Instances::PoolId)
                            .to(DatabasePools::Table, DatabasePools::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("instances_developer_idx", Instances::DeveloperId),
            ("instances_pool_idx", Instances::PoolId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Instances::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        // Subdomains stay unique among instances that are not deleted.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX instances_subdomain_key ON instances (subdomain) \
                 WHERE status <> 'deleted'",
            )
            .await?;
        // Waiters are placed oldest first.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX instances_waiting_idx ON instances (region, created_at) \
                 WHERE status = 'waiting_for_capacity'",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InstanceEvents::Table)
                    .col(id_pk(InstanceEvents::Id))
                    .col(uuid_ref(InstanceEvents::InstanceId))
                    .col(text(InstanceEvents::EventType))
                    .col(text_null(InstanceEvents::FromStatus))
                    .col(text(InstanceEvents::ToStatus))
                    .col(text_null(InstanceEvents::Message))
                    .col(timestamp(InstanceEvents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("instance_events_instance_fk")
                            .from(InstanceEvents::Table, InstanceEvents::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("instance_events_instance_idx")
                    .table(InstanceEvents::Table)
                    .col(InstanceEvents::InstanceId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InstanceEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Instances::Table).to_owned())
            .await
    }
}
