use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Plans {
    Table,
    Id,
    Code,
    Name,
    PriceMinor,
    Currency,
    BillingInterval,
    TrialDays,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plans::Table)
                    .col(id_pk(Plans::Id))
                    .col(text(Plans::Code))
                    .col(text(Plans::Name))
                    .col(ColumnDef::new(Plans::PriceMinor).big_integer().not_null())
                    .col(text(Plans::Currency))
                    .col(text(Plans::BillingInterval))
                    .col(ColumnDef::new(Plans::TrialDays).integer().not_null())
                    .col(ColumnDef::new(Plans::Active).boolean().not_null())
                    .col(timestamp(Plans::CreatedAt))
                    .col(timestamp(Plans::UpdatedAt))
                    .check(Expr::cust("price_minor >= 0"))
                    .check(Expr::cust("trial_days >= 0"))
                    .check(one_of("billing_interval", &["month", "year"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("plans_code_key")
                    .table(Plans::Table)
                    .col(Plans::Code)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Plans::Table).to_owned())
            .await
    }
}
