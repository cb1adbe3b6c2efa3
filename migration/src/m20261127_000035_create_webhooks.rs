use crate::columns::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    OwnerId,
    Url,
    EventTypes,
    SecretSeed,
    Description,
    Enabled,
    DisabledAt,
    DisabledReason,
    FailingSince,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    RetryUntil,
    LastAttemptAt,
    LastStatusCode,
    LastLatencyMs,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Id,
    Kind,
    Recipient,
    Subject,
    BodyText,
    Link,
    LinkToken,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
}

/// Mail kinds before this migration, and with the notice that an endpoint was disabled.
const MAIL_KINDS: &[&str] = &["invitation", "email_verification", "password_reset"];
const MAIL_KINDS_WITH_WEBHOOKS: &[&str] = &[
    "invitation",
    "email_verification",
    "password_reset",
    "webhook_endpoint_disabled",
];

/// Webhooks out: endpoints that developers (for their own events) and admins (for every event)
/// register, and the outbox of deliveries to them. A delivery row is written in the transaction
/// of the change whose event it carries, one per matching endpoint, and a worker in each gateway
/// posts it afterwards, retrying failures. The mail outbox learns one more kind: the notice that
/// an endpoint was disabled for failing.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(id_pk(WebhookEndpoints::Id))
                    .col(uuid_ref(WebhookEndpoints::OwnerId))
                    .col(text(WebhookEndpoints::Url))
                    // Space-separated event types: exact (`license.created`), a domain's
                    // (`license.*`), or every one (`*`).
                    .col(text(WebhookEndpoints::EventTypes))
                    // Random bytes the signing secret is derived from under a server secret:
                    // the database alone holds nothing that signs.
                    .col(text(WebhookEndpoints::SecretSeed))
                    .col(text_null(WebhookEndpoints::Description))
                    .col(
                        ColumnDef::new(WebhookEndpoints::Enabled)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(timestamp_null(WebhookEndpoints::DisabledAt))
                    .col(text_null(WebhookEndpoints::DisabledReason))
                    // The first failure since the last success: how long it has been failing.
                    .col(timestamp_null(WebhookEndpoints::FailingSince))
                    .col(timestamp(WebhookEndpoints::CreatedAt))
                    .check(Expr::cust(
                        "(enabled AND disabled_at IS NULL AND disabled_reason IS NULL) \
                         OR (NOT enabled AND disabled_at IS NOT NULL AND disabled_reason IN ('by_owner', 'failing'))",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_endpoints_owner_fk")
                            .from(WebhookEndpoints::Table, WebhookEndpoints::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An owner's endpoints newest first, paged by id; also the fan-out's match on the
        // event's developer.
        manager
            .create_index(
                Index::create()
                    .name("webhook_endpoints_owner_idx")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::OwnerId)
                    .col(WebhookEndpoints::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(id_pk(WebhookDeliveries::Id))
                    .col(uuid_ref(WebhookDeliveries::EndpointId))
                    // The message id (`webhook-id`): one per event, the same for every endpoint
                    // and every attempt, so receivers can drop repeats.
                    .col(uuid_ref(WebhookDeliveries::EventId))
                    .col(text(WebhookDeliveries::EventType))
                    .col(ColumnDef::new(WebhookDeliveries::Payload).json().not_null())
                    .col(text(WebhookDeliveries::Status))
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    // Null once the delivery has succeeded or is dead.
                    .col(timestamp_null(WebhookDeliveries::NextAttemptAt))
                    // After this a failed attempt is the last: the delivery is dead.
                    .col(timestamp(WebhookDeliveries::RetryUntil))
                    .col(timestamp_null(WebhookDeliveries::LastAttemptAt))
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastStatusCode)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastLatencyMs)
                            .integer()
                            .null(),
                    )
                    // What went wrong, in our words: never the response body, never a secret.
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp(WebhookDeliveries::CreatedAt))
                    .col(timestamp_null(WebhookDeliveries::DeliveredAt))
                    .check(one_of(
                        "status",
                        &["pending", "failed", "succeeded", "dead"],
                    ))
                    .check(Expr::cust("attempts >= 0"))
                    .check(Expr::cust(
                        "(status IN ('pending', 'failed')) = (next_attempt_at IS NOT NULL)",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_endpoint_fk")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Each event reaches an endpoint once, whatever writes it.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_event_key")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The worker's question: deliveries waiting for an attempt that is due, soonest first.
        // Only waiting rows are in it, so it stays small however much has been delivered.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries \
                 (next_attempt_at, id) WHERE status IN ('pending', 'failed')",
            )
            .await?;
        // One endpoint's deliveries newest first, optionally of one status, paged by id.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_endpoint_idx")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_endpoint_status_idx")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        mail_kinds(manager, MAIL_KINDS_WITH_WEBHOOKS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM mail_outbox WHERE kind = 'webhook_endpoint_disabled'")
            .await?;
        mail_kinds(manager, MAIL_KINDS).await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}

/// Lets `mail_outbox.kind` hold exactly `kinds`. PostgreSQL replaces the CHECK; SQLite cannot
/// alter one, so the table is rebuilt with it (same columns, rows and indexes).
async fn mail_kinds(manager: &SchemaManager<'_>, kinds: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if manager.get_database_backend() == DbBackend::Postgres {
        let list = kinds
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        db.execute_unprepared(&format!(
            "ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check, \
             ADD CONSTRAINT mail_outbox_kind_check CHECK (kind IN ({list}))"
        ))
        .await?;
        return Ok(());
    }
    // One call, so every statement runs on the same connection and sees the others' schema.
    let create_next = Table::create()
        .table(Alias::new("mail_outbox_next"))
        .col(id_pk(MailOutbox::Id))
        .col(text(MailOutbox::Kind))
        .col(text(MailOutbox::Recipient))
        .col(text(MailOutbox::Subject))
        .col(text(MailOutbox::BodyText))
        .col(text_null(MailOutbox::Link))
        .col(text_null(MailOutbox::LinkToken))
        .col(text(MailOutbox::Status))
        .col(
            ColumnDef::new(MailOutbox::Attempts)
                .integer()
                .not_null()
                .default(0),
        )
        .col(timestamp(MailOutbox::NextAttemptAt))
        .col(text_null(MailOutbox::LastError))
        .col(timestamp(MailOutbox::CreatedAt))
        .col(timestamp_null(MailOutbox::SentAt))
        .check(one_of("kind", kinds))
        .check(one_of("status", &["pending", "sent", "failed", "logged"]))
        .check(Expr::cust("attempts >= 0"))
        .check(Expr::cust("link_token IS NULL OR link IS NOT NULL"))
        .check(Expr::cust("link_token IS NULL OR status = 'pending'"))
        .to_string(SqliteQueryBuilder);
    let columns = "id, kind, recipient, subject, body_text, link, link_token, status, attempts, \
                   next_attempt_at, last_error, created_at, sent_at";
    db.execute_unprepared(&format!(
        "{create_next}; \
         INSERT INTO mail_outbox_next ({columns}) SELECT {columns} FROM mail_outbox; \
         DROP TABLE mail_outbox; \
         ALTER TABLE mail_outbox_next RENAME TO mail_outbox; \
         CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) \
             WHERE status = 'pending'; \
         CREATE INDEX mail_outbox_status_idx ON mail_outbox (status, id);"
    ))
    .await?;
    Ok(())
}
