use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    DeveloperId,
    LicenseId,
    Provider,
    ProviderSubscriptionId,
    ProviderCustomerId,
    Status,
    CurrentPeriodStart,
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    /// When the provider wrote the newest state mirrored here: an older event changes nothing.
    ProviderUpdatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    Provider,
    EventId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    Note,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
}

/// Subscriptions as the payment provider reports them, mirrored per license, and every payment
/// webhook received: stored once per provider event id (a repeat does nothing), with how its
/// handling went; a failed one waits here to be retried (the dead letters).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(id_pk(Subscriptions::Id))
                    .col(uuid_ref(Subscriptions::DeveloperId))
                    .col(uuid_ref(Subscriptions::LicenseId))
                    .col(text(Subscriptions::Provider))
                    .col(text(Subscriptions::ProviderSubscriptionId))
                    .col(text_null(Subscriptions::ProviderCustomerId))
                    .col(text(Subscriptions::Status))
                    .col(timestamp_null(Subscriptions::CurrentPeriodStart))
                    .col(timestamp_null(Subscriptions::CurrentPeriodEnd))
                    .col(
                        ColumnDef::new(Subscriptions::CancelAtPeriodEnd)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamp(Subscriptions::ProviderUpdatedAt))
                    .col(timestamp(Subscriptions::CreatedAt))
                    .col(timestamp(Subscriptions::UpdatedAt))
                    .check(one_of(
                        "status",
                        &[
                            "trialing",
                            "active",
                            "past_due",
                            "canceled",
                            "unpaid",
                            "paused",
                            "incomplete",
                            "incomplete_expired",
                        ],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("subscriptions_developer_fk")
                            .from(Subscriptions::Table, Subscriptions::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("subscriptions_license_fk")
                            .from(Subscriptions::Table, Subscriptions::LicenseId)
                            .to(Licenses::Table, Licenses::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "subscriptions_provider_key",
                vec![
                    Subscriptions::Provider,
                    Subscriptions::ProviderSubscriptionId,
                ],
                true,
            ),
            (
                "subscriptions_developer_idx",
                vec![Subscriptions::DeveloperId, Subscriptions::Id],
                false,
            ),
            (
                "subscriptions_license_idx",
                vec![Subscriptions::LicenseId],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Subscriptions::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(id_pk(WebhookEvents::Id))
                    .col(text(WebhookEvents::Provider))
                    .col(text(WebhookEvents::EventId))
                    .col(text(WebhookEvents::EventType))
                    .col(
                        ColumnDef::new(WebhookEvents::Payload)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text(WebhookEvents::Status))
                    .col(
                        ColumnDef::new(WebhookEvents::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(timestamp_null(WebhookEvents::NextAttemptAt))
                    .col(text_null(WebhookEvents::LastError))
                    .col(text_null(WebhookEvents::Note))
                    .col(timestamp(WebhookEvents::ReceivedAt))
                    .col(timestamp_null(WebhookEvents::ProcessedAt))
                    .check(one_of(
                        "status",
                        &["processed", "ignored", "failed", "discarded"],
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_events_provider_event_key")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::Provider)
                    .col(WebhookEvents::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dead letters due for another attempt, found without reading the processed ones.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_events_failed_due_idx ON webhook_events (next_attempt_at) \
                 WHERE status = 'failed'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Subscriptions::Table).to_owned())
            .await
    }
}
