use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How full a license's seats are, as `licenses` sorts by it: the listing orders by this very
/// expression so that the index below serves it.
pub const UTILIZATION: &str =
    "(CASE WHEN seats_total > 0 THEN seats_used * 1.0 / seats_total ELSE 0 END)";

/// Every sort of `licenses` is read from an index in its order, from the cursor on, so a page
/// at any depth costs what the first does: expiry (licenses that never expire, which come last,
/// by their own partial index), utilization, and state (the most used filter) by creation; and
/// key prefixes for search.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "CREATE INDEX licenses_expires_order_idx ON licenses (expires_at, id)".to_owned(),
            "CREATE INDEX licenses_perpetual_order_idx ON licenses (id) WHERE expires_at IS NULL"
                .to_owned(),
            format!("CREATE INDEX licenses_utilization_order_idx ON licenses ({UTILIZATION}, id)"),
            "CREATE INDEX licenses_state_order_idx ON licenses (state, id)".to_owned(),
        ] {
            db.execute_unprepared(&statement).await?;
        }
        // A key searched for by its first characters: a prefix LIKE, served by a pattern index.
        let key_prefix = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            "CREATE INDEX licenses_key_prefix_idx ON licenses (key_prefix text_pattern_ops)"
        } else {
            "CREATE INDEX licenses_key_prefix_idx ON licenses (key_prefix)"
        };
        db.execute_unprepared(key_prefix).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "licenses_expires_order_idx",
            "licenses_perpetual_order_idx",
            "licenses_utilization_order_idx",
            "licenses_state_order_idx",
            "licenses_key_prefix_idx",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {index}"))
                .await?;
        }
        Ok(())
    }
}
