use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
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

/// Mail waiting to leave, and what became of it. A mail is written in the transaction of the
/// change it belongs to, so it exists if and only if that change committed; a worker delivers
/// it afterwards.
///
/// The body is stored with `{link}` where its one-time link goes. The link's address (`link`)
/// is kept apart from its token (`link_token`), so the message can be shown and logged without
/// the token; the token is erased once the mail has left or been given up on, and the database
/// refuses a token on a mail that is no longer pending.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailOutbox::Table)
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
                    .check(one_of(
                        "kind",
                        &["invitation", "email_verification", "password_reset"],
                    ))
                    .check(one_of("status", &["pending", "sent", "failed", "logged"]))
                    .check(Expr::cust("attempts >= 0"))
                    .check(Expr::cust("link_token IS NULL OR link IS NOT NULL"))
                    .check(Expr::cust("link_token IS NULL OR status = 'pending'"))
                    .to_owned(),
            )
            .await?;
        // The delivery worker's question: pending mail that is due, oldest first. Only pending
        // rows are in it, so it stays small however much mail has gone out.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at, id) \
                 WHERE status = 'pending'",
            )
            .await?;
        // Admins list mail newest first, optionally of one status.
        manager
            .create_index(
                Index::create()
                    .name("mail_outbox_status_idx")
                    .table(MailOutbox::Table)
                    .col(MailOutbox::Status)
                    .col(MailOutbox::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MailOutbox::Table).to_owned())
            .await
    }
}
