use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Full-text search over licenses on PostgreSQL. The expression must match the one the
/// `licenses` query searches with, or the index is not used. SQLite searches with LIKE.
pub const SEARCH_DOCUMENT: &str = "to_tsvector('simple', coalesce(licenses.key_prefix, '') || ' ' || coalesce(licenses.dba, '') || ' ' || licenses.product)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX licenses_search_idx ON licenses USING GIN (({SEARCH_DOCUMENT}))"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS licenses_search_idx")
            .await?;
        Ok(())
    }
}
