use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    DeveloperId,
}

/// The developer whose team a member belongs to (null for developers and admins): what a
/// developer may see of an account, and whom a seat may go to, follow from it. Members that
/// exist already join the team of the first license they hold a seat on.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::DeveloperId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_developer_idx")
                    .table(Users::Table)
                    .col(Users::DeveloperId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET developer_id = ( \
                     SELECT l.developer_id FROM license_assignments a \
                     JOIN licenses l ON l.id = a.license_id \
                     WHERE a.user_id = users.id ORDER BY a.id LIMIT 1) \
                 WHERE role = 'member'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("users_developer_idx")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::DeveloperId)
                    .to_owned(),
            )
            .await
    }
}
