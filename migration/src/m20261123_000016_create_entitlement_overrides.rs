use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanEntitlements {
    Table,
    MonthlyMailCredits,
    MonthlyLetters,
    AllowOverage,
}

#[derive(DeriveIden)]
enum EntitlementOverrides {
    Table,
    DeveloperId,
    Key,
    Value,
    ExpiresAt,
    SetBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Monthly quotas and overage join the plan's limits; per-developer overrides sit on top.
/// SQLite alters one column per statement, so each is its own ALTER.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(PlanEntitlements::MonthlyMailCredits)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(PlanEntitlements::MonthlyLetters)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(PlanEntitlements::AllowOverage)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(PlanEntitlements::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(EntitlementOverrides::Table)
                    .col(uuid_ref(EntitlementOverrides::DeveloperId))
                    .col(text(EntitlementOverrides::Key))
                    .col(
                        ColumnDef::new(EntitlementOverrides::Value)
                            .json()
                            .not_null(),
                    )
                    .col(timestamp_null(EntitlementOverrides::ExpiresAt))
                    .col(uuid_ref_null(EntitlementOverrides::SetBy))
                    .col(timestamp(EntitlementOverrides::CreatedAt))
                    .col(timestamp(EntitlementOverrides::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(EntitlementOverrides::DeveloperId)
                            .col(EntitlementOverrides::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("entitlement_overrides_developer_fk")
                            .from(
                                EntitlementOverrides::Table,
                                EntitlementOverrides::DeveloperId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EntitlementOverrides::Table).to_owned())
            .await?;
        for column in [
            PlanEntitlements::AllowOverage,
            PlanEntitlements::MonthlyLetters,
            PlanEntitlements::MonthlyMailCredits,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PlanEntitlements::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
