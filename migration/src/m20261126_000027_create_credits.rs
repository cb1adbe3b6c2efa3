use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanEntitlements {
    Table,
    MonthlySmsCredits,
}

#[derive(DeriveIden)]
enum CreditBalances {
    Table,
    DeveloperId,
    Kind,
    Granted,
    Purchased,
    Unlimited,
    PeriodStart,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CreditEntries {
    Table,
    Id,
    DeveloperId,
    Kind,
    Reason,
    Amount,
    GrantedAfter,
    PurchasedAfter,
    PeriodStart,
    Reference,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

const KINDS: &[&str] = &["mail", "sms"];

/// Monthly credits: a balance per developer and kind (mail, sms) in two parts, what this
/// month's grant left (replaced at each month's start) and what was bought (kept), never below
/// zero; and the ledger of every grant, expiry, purchase and spend with the balance after it. A
/// spend's reference is unique per developer and kind, so a retried spend is spent once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanEntitlements::Table)
                    .add_column(
                        ColumnDef::new(PlanEntitlements::MonthlySmsCredits)
                            .big_integer()
                            .null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CreditBalances::Table)
                    .col(uuid_ref(CreditBalances::DeveloperId))
                    .col(text(CreditBalances::Kind))
                    .col(
                        ColumnDef::new(CreditBalances::Granted)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CreditBalances::Purchased)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CreditBalances::Unlimited)
                            .boolean()
                            .not_null(),
                    )
                    .col(timestamp(CreditBalances::PeriodStart))
                    .col(timestamp(CreditBalances::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CreditBalances::DeveloperId)
                            .col(CreditBalances::Kind),
                    )
                    .check(Expr::cust("granted >= 0"))
                    .check(Expr::cust("purchased >= 0"))
                    .check(one_of("kind", KINDS))
                    .foreign_key(
                        ForeignKey::create()
                            .name("credit_balances_developer_fk")
                            .from(CreditBalances::Table, CreditBalances::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The monthly job finds the balances whose month has passed.
        manager
            .create_index(
                Index::create()
                    .name("credit_balances_period_idx")
                    .table(CreditBalances::Table)
                    .col(CreditBalances::PeriodStart)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CreditEntries::Table)
                    .col(id_pk(CreditEntries::Id))
                    .col(uuid_ref(CreditEntries::DeveloperId))
                    .col(text(CreditEntries::Kind))
                    .col(text(CreditEntries::Reason))
                    .col(
                        ColumnDef::new(CreditEntries::Amount)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CreditEntries::GrantedAfter)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CreditEntries::PurchasedAfter)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp_null(CreditEntries::PeriodStart))
                    .col(text_null(CreditEntries::Reference))
                    .col(timestamp(CreditEntries::CreatedAt))
                    .check(one_of("kind", KINDS))
                    .check(one_of(
                        "reason",
                        &["monthly_grant", "expired", "purchase", "spend"],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("credit_entries_developer_fk")
                            .from(CreditEntries::Table, CreditEntries::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The ledger, newest first, per developer and kind.
        manager
            .create_index(
                Index::create()
                    .name("credit_entries_developer_idx")
                    .table(CreditEntries::Table)
                    .col(CreditEntries::DeveloperId)
                    .col(CreditEntries::Kind)
                    .col(CreditEntries::Id)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX credit_entries_reference_key \
             ON credit_entries (developer_id, kind, reference) WHERE reference IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX credit_entries_grant_key \
             ON credit_entries (developer_id, kind, period_start) WHERE reason = 'monthly_grant'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CreditEntries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CreditBalances::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PlanEntitlements::Table)
                    .drop_column(PlanEntitlements::MonthlySmsCredits)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
