use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Notes,
    Dba,
    Zip,
    Agents,
    SmsCreditsPurchased,
    SmsCreditsSent,
}

#[derive(DeriveIden)]
enum PlanEntitlements {
    Table,
    HeartbeatWindowSeconds,
}

/// SQLite alters one column per statement, so each is its own ALTER.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let license_columns = [
            ColumnDef::new(Licenses::Notes).text().null().to_owned(),
            ColumnDef::new(Licenses::Dba).string().null().to_owned(),
            ColumnDef::new(Licenses::Zip).string().null().to_owned(),
            ColumnDef::new(Licenses::Agents).integer().null().to_owned(),
            ColumnDef::new(Licenses::SmsCreditsPurchased)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Licenses::SmsCreditsSent)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ];
        for column in license_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Licenses::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(PlanEntitlements::Table)
                    .add_column(
                        ColumnDef::new(PlanEntitlements::HeartbeatWindowSeconds)
                            .integer()
                            .not_null()
                            .default(600),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanEntitlements::Table)
                    .drop_column(PlanEntitlements::HeartbeatWindowSeconds)
                    .to_owned(),
            )
            .await?;
        for column in [
            Licenses::SmsCreditsSent,
            Licenses::SmsCreditsPurchased,
            Licenses::Agents,
            Licenses::Zip,
            Licenses::Dba,
            Licenses::Notes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Licenses::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
