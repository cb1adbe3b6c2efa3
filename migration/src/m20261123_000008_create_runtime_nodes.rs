use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RuntimeNodes {
    Table,
    Id,
    LicenseId,
    Fingerprint,
    Name,
    AppUrl,
    Version,
    Status,
    LastCheckInAt,
    HeartbeatDeadlineAt,
    ActivatedAt,
    DeactivatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuntimeNodes::Table)
                    .col(id_pk(RuntimeNodes::Id))
                    .col(uuid_ref(RuntimeNodes::LicenseId))
                    .col(text(RuntimeNodes::Fingerprint))
                    .col(text_null(RuntimeNodes::Name))
                    .col(text_null(RuntimeNodes::AppUrl))
                    .col(text_null(RuntimeNodes::Version))
                    .col(text(RuntimeNodes::Status))
                    .col(timestamp(RuntimeNodes::LastCheckInAt))
                    .col(timestamp(RuntimeNodes::HeartbeatDeadlineAt))
                    .col(timestamp(RuntimeNodes::ActivatedAt))
                    .col(timestamp_null(RuntimeNodes::DeactivatedAt))
                    .col(timestamp(RuntimeNodes::CreatedAt))
                    .col(timestamp(RuntimeNodes::UpdatedAt))
                    .check(one_of("status", &["active", "deactivated"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("runtime_nodes_license_fk")
                            .from(RuntimeNodes::Table, RuntimeNodes::LicenseId)
                            .to(Licenses::Table, Licenses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("runtime_nodes_license_idx")
                    .table(RuntimeNodes::Table)
                    .col(RuntimeNodes::LicenseId)
                    .col(RuntimeNodes::HeartbeatDeadlineAt)
                    .to_owned(),
            )
            .await?;
        // A fingerprint is one node per license: activation is idempotent because of this.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX runtime_nodes_active_fingerprint_key \
                 ON runtime_nodes (license_id, fingerprint) WHERE status = 'active'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RuntimeNodes::Table).to_owned())
            .await
    }
}
