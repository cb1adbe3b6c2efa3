use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LicenseAssignments {
    Table,
    Id,
    LicenseId,
    UserId,
    Status,
    AssignedAt,
    ReleasedAt,
    AssignedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LicenseAssignments::Table)
                    .col(id_pk(LicenseAssignments::Id))
                    .col(uuid_ref(LicenseAssignments::LicenseId))
                    .col(uuid_ref(LicenseAssignments::UserId))
                    .col(text(LicenseAssignments::Status))
                    .col(timestamp(LicenseAssignments::AssignedAt))
                    .col(timestamp_null(LicenseAssignments::ReleasedAt))
                    .col(uuid_ref_null(LicenseAssignments::AssignedBy))
                    .col(timestamp(LicenseAssignments::CreatedAt))
                    .col(timestamp(LicenseAssignments::UpdatedAt))
                    .check(one_of("status", &["active", "unassigned", "revoked"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("license_assignments_license_fk")
                            .from(LicenseAssignments::Table, LicenseAssignments::LicenseId)
                            .to(Licenses::Table, Licenses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("license_assignments_user_fk")
                            .from(LicenseAssignments::Table, LicenseAssignments::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("license_assignments_license_idx")
                    .table(LicenseAssignments::Table)
                    .col(LicenseAssignments::LicenseId)
                    .to_owned(),
            )
            .await?;
        // One active assignment per (license, user); released ones stay as history. A partial
        // index is written the same way on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX license_assignments_active_key \
                 ON license_assignments (license_id, user_id) WHERE status = 'active'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LicenseAssignments::Table).to_owned())
            .await
    }
}
