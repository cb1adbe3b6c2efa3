use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `licenses` filters whose values can be rare (a payment state, a product, a plan), each
/// with the id after it: a page of a rare value is read from its own index range in id order,
/// where the primary key would be scanned across the whole table to find it.
const INDEXES: &[(&str, &str)] = &[
    ("licenses_payment_state_order_idx", "payment_state, id"),
    ("licenses_product_order_idx", "product, id"),
    ("licenses_plan_order_idx", "plan_id, id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, columns) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON licenses ({columns})"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}
