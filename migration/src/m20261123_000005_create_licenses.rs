use crate::columns::*;
use crate::m20261123_000001_create_users::Users;
use crate::m20261123_000002_create_plans::Plans;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
    DeveloperId,
    PlanId,
    KeyHash,
    KeyPrefix,
    Product,
    Term,
    State,
    PaymentState,
    SeatsTotal,
    SeatsUsed,
    StartsAt,
    ExpiresAt,
    TrialEndsAt,
    GraceEndsAt,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    UpdatedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Licenses::Table)
                    .col(id_pk(Licenses::Id))
                    .col(uuid_ref(Licenses::DeveloperId))
                    .col(uuid_ref(Licenses::PlanId))
                    .col(text(Licenses::KeyHash))
                    .col(text(Licenses::KeyPrefix))
                    .col(text(Licenses::Product))
                    .col(text(Licenses::Term))
                    .col(text(Licenses::State))
                    .col(text(Licenses::PaymentState))
                    .col(ColumnDef::new(Licenses::SeatsTotal).integer().not_null())
                    .col(ColumnDef::new(Licenses::SeatsUsed).integer().not_null())
                    .col(timestamp(Licenses::StartsAt))
                    .col(timestamp_null(Licenses::ExpiresAt))
                    .col(timestamp_null(Licenses::TrialEndsAt))
                    .col(timestamp_null(Licenses::GraceEndsAt))
                    .col(timestamp(Licenses::CreatedAt))
                    .col(timestamp(Licenses::UpdatedAt))
                    .col(uuid_ref_null(Licenses::CreatedBy))
                    .col(uuid_ref_null(Licenses::UpdatedBy))
                    // The seat invariant lives in the database, so no code path can break it.
                    .check(Expr::cust("seats_used >= 0 AND seats_used <= seats_total"))
                    .check(one_of("term", &["monthly", "yearly"]))
                    .check(one_of(
                        "state",
                        &[
                            "trialing",
                            "active",
                            "grace",
                            "past_due",
                            "expired",
                            "cancelled",
                            "revoked",
                            "suspended",
                        ],
                    ))
                    .check(one_of(
                        "payment_state",
                        &[
                            "not_required_for_trial",
                            "active",
                            "past_due",
                            "failed",
                            "cancelled",
                        ],
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("licenses_developer_fk")
                            .from(Licenses::Table, Licenses::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("licenses_plan_fk")
                            .from(Licenses::Table, Licenses::PlanId)
                            .to(Plans::Table, Plans::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            ("licenses_key_hash_key", Licenses::KeyHash, true),
            ("licenses_developer_idx", Licenses::DeveloperId, false),
            ("licenses_plan_idx", Licenses::PlanId, false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Licenses::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Licenses::Table).to_owned())
            .await
    }
}
