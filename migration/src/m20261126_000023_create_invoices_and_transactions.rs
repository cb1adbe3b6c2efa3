use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    DeveloperId,
    SubscriptionId,
    Provider,
    ProviderInvoiceId,
    Number,
    Status,
    Currency,
    TotalMinor,
    PeriodStart,
    PeriodEnd,
    Lines,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Transactions {
    Table,
    Id,
    DeveloperId,
    InvoiceId,
    Provider,
    ProviderPaymentId,
    Kind,
    Status,
    AmountMinor,
    Currency,
    OccurredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
}

/// Invoices and money movements as the payment provider reports them, per developer. Amounts
/// are integers in the currency's minor unit. Each is unique per provider id, so a repeated
/// report updates the same row.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(id_pk(Invoices::Id))
                    .col(uuid_ref(Invoices::DeveloperId))
                    .col(uuid_ref_null(Invoices::SubscriptionId))
                    .col(text(Invoices::Provider))
                    .col(text(Invoices::ProviderInvoiceId))
                    .col(text_null(Invoices::Number))
                    .col(text(Invoices::Status))
                    .col(text(Invoices::Currency))
                    .col(
                        ColumnDef::new(Invoices::TotalMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(timestamp_null(Invoices::PeriodStart))
                    .col(timestamp_null(Invoices::PeriodEnd))
                    .col(ColumnDef::new(Invoices::Lines).json_binary().not_null())
                    .col(timestamp(Invoices::CreatedAt))
                    .col(timestamp(Invoices::UpdatedAt))
                    .check(one_of(
                        "status",
                        &["draft", "open", "paid", "uncollectible", "void"],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoices_developer_fk")
                            .from(Invoices::Table, Invoices::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invoices_subscription_fk")
                            .from(Invoices::Table, Invoices::SubscriptionId)
                            .to(Subscriptions::Table, Subscriptions::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Transactions::Table)
                    .col(id_pk(Transactions::Id))
                    .col(uuid_ref(Transactions::DeveloperId))
                    .col(uuid_ref_null(Transactions::InvoiceId))
                    .col(text(Transactions::Provider))
                    .col(text(Transactions::ProviderPaymentId))
                    .col(text(Transactions::Kind))
                    .col(text(Transactions::Status))
                    .col(
                        ColumnDef::new(Transactions::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(Transactions::Currency))
                    .col(timestamp(Transactions::OccurredAt))
                    .col(timestamp(Transactions::CreatedAt))
                    .col(timestamp(Transactions::UpdatedAt))
                    .check(one_of("kind", &["subscription", "addon"]))
                    .check(one_of(
                        "status",
                        &["succeeded", "failed", "pending", "refunded"],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("transactions_developer_fk")
                            .from(Transactions::Table, Transactions::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("transactions_invoice_fk")
                            .from(Transactions::Table, Transactions::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, &str, &[&str], bool); 5] = [
            (
                "invoices_provider_key",
                "invoices",
                &["provider", "provider_invoice_id"],
                true,
            ),
            (
                "invoices_developer_idx",
                "invoices",
                &["developer_id", "id"],
                false,
            ),
            (
                "transactions_provider_key",
                "transactions",
                &["provider", "provider_payment_id"],
                true,
            ),
            (
                "transactions_developer_idx",
                "transactions",
                &["developer_id", "id"],
                false,
            ),
            // The revenue report reads succeeded money by time.
            (
                "transactions_occurred_idx",
                "transactions",
                &["occurred_at"],
                false,
            ),
        ];
        for (name, table, columns, unique) in indexes {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for column in columns {
                index.col(Alias::new(*column));
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Transactions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Invoices::Table).to_owned())
            .await
    }
}
