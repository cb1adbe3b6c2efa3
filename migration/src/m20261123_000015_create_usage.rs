use crate::columns::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UsageMetrics {
    Table,
    Code,
    Name,
    Aggregation,
    Unit,
    QuotaKey,
    QuotaPeriod,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UsageEvents {
    Table,
    Id,
    DeveloperId,
    TransactionId,
    InstanceId,
    LicenseId,
    MetricCode,
    Value,
    UniqueValue,
    OccurredAt,
    ReceivedAt,
}

/// One table for every roll-up: per instance and per developer, per day and per month.
#[derive(DeriveIden)]
enum UsageRollups {
    Table,
    ScopeType,
    ScopeId,
    MetricCode,
    Granularity,
    Bucket,
    DeveloperId,
    Value,
    PreviousValue,
    QuotaLimit,
    LastAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsageDistinctValues {
    Table,
    RollupKey,
    Value,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

const AGGREGATIONS: &[&str] = &["sum", "max", "latest", "unique_count"];

/// (code, name, aggregation, unit, quota entitlement, quota period)
type MetricSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// The metrics every installation meters; custom ones are added through the API.
const BUILT_IN: &[MetricSeed] = &[
    (
        "api_requests",
        "API requests",
        "sum",
        "requests",
        Some("daily_api_requests"),
        Some("day"),
    ),
    (
        "storage_bytes",
        "File storage",
        "latest",
        "bytes",
        Some("storage_quota_bytes"),
        Some("day"),
    ),
    (
        "database_bytes",
        "Database size",
        "latest",
        "bytes",
        None,
        None,
    ),
    (
        "compute_seconds",
        "Compute time",
        "sum",
        "seconds",
        None,
        None,
    ),
    (
        "mail_credits",
        "Mail credits",
        "sum",
        "credits",
        Some("monthly_mail_credits"),
        Some("month"),
    ),
    (
        "letters",
        "Letters sent",
        "sum",
        "letters",
        Some("monthly_letters"),
        Some("month"),
    ),
];

fn value(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn day(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).date().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageMetrics::Table)
                    .col(text(UsageMetrics::Code).primary_key())
                    .col(text(UsageMetrics::Name))
                    .col(text(UsageMetrics::Aggregation))
                    .col(text(UsageMetrics::Unit))
                    .col(text_null(UsageMetrics::QuotaKey))
                    .col(text_null(UsageMetrics::QuotaPeriod))
                    .col(timestamp(UsageMetrics::CreatedAt))
                    .check(one_of("aggregation", AGGREGATIONS))
                    .check(Expr::cust(
                        "quota_period IS NULL OR quota_period IN ('day', 'month')",
                    ))
                    .to_owned(),
            )
            .await?;
        for (code, name, aggregation, unit, quota_key, quota_period) in BUILT_IN {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(UsageMetrics::Table)
                        .columns([
                            UsageMetrics::Code,
                            UsageMetrics::Name,
                            UsageMetrics::Aggregation,
                            UsageMetrics::Unit,
                            UsageMetrics::QuotaKey,
                            UsageMetrics::QuotaPeriod,
                            UsageMetrics::CreatedAt,
                        ])
                        .values_panic([
                            (*code).into(),
                            (*name).into(),
                            (*aggregation).into(),
                            (*unit).into(),
                            quota_key.map(str::to_owned).into(),
                            quota_period.map(str::to_owned).into(),
                            Expr::current_timestamp(),
                        ])
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(UsageEvents::Table)
                    .col(id_pk(UsageEvents::Id))
                    .col(uuid_ref(UsageEvents::DeveloperId))
                    .col(text(UsageEvents::TransactionId))
                    .col(uuid_ref_null(UsageEvents::InstanceId))
                    .col(uuid_ref_null(UsageEvents::LicenseId))
                    .col(text(UsageEvents::MetricCode))
                    .col(value(UsageEvents::Value))
                    .col(text_null(UsageEvents::UniqueValue))
                    .col(timestamp(UsageEvents::OccurredAt))
                    .col(timestamp(UsageEvents::ReceivedAt))
                    // The hot table keeps one reference, for deleting a developer. Instance,
                    // license and metric are checked by the ingesting request; a trigger-run
                    // foreign-key lookup per column per row would cost more than the insert.
                    .foreign_key(
                        ForeignKey::create()
                            .name("usage_events_developer_fk")
                            .from(UsageEvents::Table, UsageEvents::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Idempotency: one stored event per (developer, transaction id), whatever the races.
        manager
            .create_index(
                Index::create()
                    .name("usage_events_transaction_key")
                    .table(UsageEvents::Table)
                    .col(UsageEvents::DeveloperId)
                    .col(UsageEvents::TransactionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageRollups::Table)
                    .col(text(UsageRollups::ScopeType))
                    .col(uuid_ref(UsageRollups::ScopeId))
                    .col(text(UsageRollups::MetricCode))
                    .col(text(UsageRollups::Granularity))
                    .col(day(UsageRollups::Bucket))
                    .col(uuid_ref(UsageRollups::DeveloperId))
                    .col(value(UsageRollups::Value))
                    .col(value(UsageRollups::PreviousValue))
                    .col(
                        ColumnDef::new(UsageRollups::QuotaLimit)
                            .big_integer()
                            .null(),
                    )
                    .col(timestamp(UsageRollups::LastAt))
                    .col(timestamp(UsageRollups::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(UsageRollups::ScopeType)
                            .col(UsageRollups::ScopeId)
                            .col(UsageRollups::MetricCode)
                            .col(UsageRollups::Granularity)
                            .col(UsageRollups::Bucket),
                    )
                    .check(one_of("scope_type", &["instance", "developer"]))
                    .check(one_of("granularity", &["day", "month"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("usage_rollups_developer_fk")
                            .from(UsageRollups::Table, UsageRollups::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The monitoring query: today's instance roll-ups that carry a quota.
        manager
            .create_index(
                Index::create()
                    .name("usage_rollups_bucket_idx")
                    .table(UsageRollups::Table)
                    .col(UsageRollups::Granularity)
                    .col(UsageRollups::Bucket)
                    .col(UsageRollups::ScopeType)
                    .to_owned(),
            )
            .await?;
        // UNIQUE_COUNT roll-ups count a value the first time it lands in their key.
        manager
            .create_table(
                Table::create()
                    .table(UsageDistinctValues::Table)
                    .col(text(UsageDistinctValues::RollupKey))
                    .col(text(UsageDistinctValues::Value))
                    .primary_key(
                        Index::create()
                            .col(UsageDistinctValues::RollupKey)
                            .col(UsageDistinctValues::Value),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            UsageDistinctValues::Table.into_iden(),
            UsageRollups::Table.into_iden(),
            UsageEvents::Table.into_iden(),
            UsageMetrics::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
