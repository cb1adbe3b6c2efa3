use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plans {
    Table,
    Id,
    Version,
    Latest,
    RetiredAt,
}

#[derive(DeriveIden)]
enum PlanPrices {
    Table,
    Id,
    PlanId,
    Interval,
    AmountMinor,
    Currency,
    ProviderPriceId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    PlanPriceId,
    ProviderItemId,
}

/// The catalogue keeps its history: a plan's code names a line of versions, one of them the
/// latest (on sale unless retired); changing what a plan grants or costs adds a version, and
/// licenses and subscriptions stay on the version they were sold on. Each version has its prices
/// (one per interval, with the payment provider's price id); a subscription remembers the price
/// it was sold at and the provider's item that carries it. A plan's existing price becomes its
/// first price row, under the plan's own id.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(
                        ColumnDef::new(Plans::Version)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(
                        ColumnDef::new(Plans::Latest)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Plans::Table)
                    .add_column(timestamp_null(Plans::RetiredAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX plans_code_key").await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX plans_code_version_key ON plans (code, version)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX plans_code_latest_key ON plans (code) WHERE latest",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanPrices::Table)
                    .col(id_pk(PlanPrices::Id))
                    .col(uuid_ref(PlanPrices::PlanId))
                    .col(text(PlanPrices::Interval))
                    .col(
                        ColumnDef::new(PlanPrices::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(PlanPrices::Currency))
                    .col(text_null(PlanPrices::ProviderPriceId))
                    .col(timestamp(PlanPrices::CreatedAt))
                    .check(Expr::cust("amount_minor >= 0"))
                    .check(one_of("interval", &["month", "year"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("plan_prices_plan_fk")
                            .from(PlanPrices::Table, PlanPrices::PlanId)
                            .to(Plans::Table, Plans::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("plan_prices_plan_interval_key")
                    .table(PlanPrices::Table)
                    .col(PlanPrices::PlanId)
                    .col(PlanPrices::Interval)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A provider's event names its price: this finds the version and price it belongs to.
        db.execute_unprepared(
            "CREATE INDEX plan_prices_provider_idx ON plan_prices (provider_price_id) \
             WHERE provider_price_id IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO plan_prices (id, plan_id, interval, amount_minor, currency, provider_price_id, created_at) \
             SELECT id, id, billing_interval, price_minor, currency, NULL, created_at FROM plans",
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(uuid_ref_null(Subscriptions::PlanPriceId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Subscriptions::Table)
                    .add_column(text_null(Subscriptions::ProviderItemId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Subscriptions::PlanPriceId, Subscriptions::ProviderItemId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Subscriptions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(PlanPrices::Table).to_owned())
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX plans_code_latest_key")
            .await?;
        db.execute_unprepared("DROP INDEX plans_code_version_key")
            .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX plans_code_key ON plans (code)")
            .await?;
        for column in [Plans::RetiredAt, Plans::Latest, Plans::Version] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Plans::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
