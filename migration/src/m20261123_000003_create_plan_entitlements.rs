use crate::columns::*;
use crate::m20261123_000002_create_plans::Plans;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanEntitlements {
    Table,
    PlanId,
    MaxCustomers,
    MaxWorkspaces,
    MaxAiEmployees,
    MaxTeamMembers,
    MaxRuntimeNodes,
    MaxSeats,
    WhiteLabelBasic,
    SupportLevel,
    DbType,
    StorageQuotaBytes,
    DailyApiRequests,
    Features,
}

/// A limit column: NULL means unlimited.
fn limit(name: PlanEntitlements) -> ColumnDef {
    ColumnDef::new(name).integer().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanEntitlements::Table)
                    .col(id_pk(PlanEntitlements::PlanId))
                    .col(limit(PlanEntitlements::MaxCustomers))
                    .col(limit(PlanEntitlements::MaxWorkspaces))
                    .col(limit(PlanEntitlements::MaxAiEmployees))
                    .col(limit(PlanEntitlements::MaxTeamMembers))
                    .col(limit(PlanEntitlements::MaxRuntimeNodes))
                    .col(limit(PlanEntitlements::MaxSeats))
                    .col(
                        ColumnDef::new(PlanEntitlements::WhiteLabelBasic)
                            .boolean()
                            .not_null(),
                    )
                    .col(text(PlanEntitlements::SupportLevel))
                    .col(text(PlanEntitlements::DbType))
                    .col(
                        ColumnDef::new(PlanEntitlements::StorageQuotaBytes)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(PlanEntitlements::DailyApiRequests)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(PlanEntitlements::Features).json().not_null())
                    .check(one_of("db_type", &["shared", "dedicated"]))
                    .check(one_of(
                        "support_level",
                        &["community", "email", "priority", "dedicated"],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("plan_entitlements_plan_fk")
                            .from(PlanEntitlements::Table, PlanEntitlements::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlanEntitlements::Table).to_owned())
            .await
    }
}
