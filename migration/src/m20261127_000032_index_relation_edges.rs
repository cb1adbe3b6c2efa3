use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each one-to-many relation edge is read for a batch of keys, a page at most per key, in the
/// edge's order (`ROW_NUMBER() OVER (PARTITION BY key ORDER BY id)`): an index on (key, id)
/// hands the rows over in that order, where an index on the key alone left them to be sorted.
/// These replace the single-column indexes they cover.
const CREATED: &[(&str, &str)] = &[
    (
        "licenses_developer_order_idx",
        "licenses (developer_id, id)",
    ),
    (
        "license_assignments_license_order_idx",
        "license_assignments (license_id, id)",
    ),
    (
        "runtime_nodes_license_order_idx",
        "runtime_nodes (license_id, id)",
    ),
    (
        "audit_events_entity_order_idx",
        "audit_events (entity_id, id)",
    ),
    (
        "instances_developer_order_idx",
        "instances (developer_id, id)",
    ),
];

const REPLACED: &[(&str, &str)] = &[
    (
        "license_assignments_license_idx",
        "license_assignments (license_id)",
    ),
    ("instances_developer_idx", "instances (developer_id)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in CREATED {
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
        for (name, _) in CREATED {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
