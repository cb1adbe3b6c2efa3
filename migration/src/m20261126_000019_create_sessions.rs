use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    Ip,
    UserAgent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// Sign-in sessions. Each row is one refresh token (stored as a digest); refreshing uses it up
/// and writes the next row of the same family. A family is one sign-in: access tokens name it,
/// logging out revokes it, and presenting a used-up refresh token again revokes it whole.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(id_pk(Sessions::Id))
                    .col(uuid_ref(Sessions::FamilyId))
                    .col(uuid_ref(Sessions::UserId))
                    .col(text(Sessions::TokenHash).unique_key())
                    .col(timestamp(Sessions::ExpiresAt))
                    .col(timestamp_null(Sessions::UsedAt))
                    .col(timestamp_null(Sessions::RevokedAt))
                    .col(text_null(Sessions::Ip))
                    .col(text_null(Sessions::UserAgent))
                    .col(timestamp(Sessions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_user_fk")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("sessions_family_idx", Sessions::FamilyId),
            ("sessions_user_idx", Sessions::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Sessions::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}
