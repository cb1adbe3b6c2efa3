use crate::columns::*;
use crate::m20261123_000001_create_users::Users;
use crate::m20261123_000002_create_plans::Plans;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Trials {
    Table,
    Id,
    DeveloperId,
    PlanId,
    StartsAt,
    EndsAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Trials::Table)
                    .col(id_pk(Trials::Id))
                    .col(uuid_ref(Trials::DeveloperId))
                    .col(uuid_ref(Trials::PlanId))
                    .col(timestamp(Trials::StartsAt))
                    .col(timestamp(Trials::EndsAt))
                    .col(timestamp(Trials::CreatedAt))
                    .check(Expr::cust("ends_at >= starts_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("trials_developer_fk")
                            .from(Trials::Table, Trials::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("trials_plan_fk")
                            .from(Trials::Table, Trials::PlanId)
                            .to(Plans::Table, Plans::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("trials_developer_idx")
                    .table(Trials::Table)
                    .col(Trials::DeveloperId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Trials::Table).to_owned())
            .await
    }
}
