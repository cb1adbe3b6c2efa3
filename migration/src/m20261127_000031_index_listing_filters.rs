use crate::m20261126_000029_index_license_orders::UTILIZATION;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `licenses` and `developers` are ordered by creation time (then id), so that a `createdAfter`/`createdBefore`
/// filter and the order are one index range. Each filter is served with that order by an index
/// of its own, and the two most used (a developer's own licenses, a state) with every order;
/// these replace the single-column and `(filter, id)` indexes they cover. Audit events are
/// found by type prefix, and on PostgreSQL the substring filters (a developer's email, the audit
/// trail's search) go through trigram indexes (`pg_trgm`, an extension PostgreSQL lets a
/// database's owner install). Each was found missing by the query-plan test.
fn created() -> Vec<(&'static str, String)> {
    vec![
        (
            "licenses_created_order_idx",
            "licenses (created_at, id)".into(),
        ),
        (
            "licenses_term_created_idx",
            "licenses (term, created_at, id)".into(),
        ),
        (
            "licenses_state_created_idx",
            "licenses (state, created_at, id)".into(),
        ),
        (
            "licenses_state_expires_idx",
            "licenses (state, expires_at, id)".into(),
        ),
        (
            "licenses_state_utilization_idx",
            format!("licenses (state, {UTILIZATION}, id)"),
        ),
        (
            "licenses_developer_created_idx",
            "licenses (developer_id, created_at, id)".into(),
        ),
        (
            "licenses_developer_expires_idx",
            "licenses (developer_id, expires_at, id)".into(),
        ),
        (
            "licenses_developer_utilization_idx",
            format!("licenses (developer_id, {UTILIZATION}, id)"),
        ),
        (
            "licenses_payment_state_created_idx",
            "licenses (payment_state, created_at, id)".into(),
        ),
        (
            "licenses_product_created_idx",
            "licenses (product, created_at, id)".into(),
        ),
        (
            "licenses_plan_created_idx",
            "licenses (plan_id, created_at, id)".into(),
        ),
        (
            "users_role_created_order_idx",
            "users (role, created_at, id)".into(),
        ),
    ]
}

/// What the indexes above cover, dropped (and made again going down).
const REPLACED: &[(&str, &str)] = &[
    ("licenses_developer_idx", "licenses (developer_id)"),
    ("licenses_plan_idx", "licenses (plan_id)"),
    ("licenses_state_order_idx", "licenses (state, id)"),
    (
        "licenses_payment_state_order_idx",
        "licenses (payment_state, id)",
    ),
    ("licenses_product_order_idx", "licenses (product, id)"),
    ("licenses_plan_order_idx", "licenses (plan_id, id)"),
    ("users_role_created_idx", "users (role, created_at)"),
];

fn own(postgres: bool) -> Vec<(&'static str, String)> {
    if postgres {
        vec![
            (
                "audit_events_type_prefix_idx",
                "audit_events (event_type text_pattern_ops)".into(),
            ),
            (
                "users_email_trigram_idx",
                "users USING gin (email gin_trgm_ops)".into(),
            ),
            (
                "audit_events_metadata_trigram_idx",
                "audit_events USING gin (lower(metadata::text) gin_trgm_ops)".into(),
            ),
        ]
    } else {
        vec![(
            "audit_events_type_prefix_idx",
            "audit_events (event_type)".into(),
        )]
    }
}

fn indexes(manager: &SchemaManager) -> Vec<(&'static str, String)> {
    let postgres = manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    created().into_iter().chain(own(postgres)).collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
        }
        for (name, on) in indexes(manager) {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        for (name, _) in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in REPLACED {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        for (name, _) in indexes(manager) {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
