use crate::helpers::{Rows, db, fresh_database, test_config};
use sea_orm::EntityTrait;

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let (url, _guard) = fresh_database().await;
    let config = test_config(&url, &[]);
    let (conn, _) = db::connect(&config.database).await.expect("connect");

    db::migrate_up(&conn).await.expect("up");
    assert!(
        db::migration_status(&conn)
            .await
            .expect("status")
            .iter()
            .all(|(_, applied)| *applied)
    );
    entity::prelude::Licenses::find()
        .all(&conn)
        .await
        .expect("licenses table exists");

    db::migrate_down(&conn, None).await.expect("down");
    assert!(
        db::migration_status(&conn)
            .await
            .expect("status")
            .iter()
            .all(|(_, applied)| !*applied)
    );
    assert!(
        entity::prelude::Licenses::find().all(&conn).await.is_err(),
        "tables are gone"
    );

    db::migrate_up(&conn).await.expect("up again");
    entity::prelude::Users::find()
        .all(&conn)
        .await
        .expect("users table exists again");
    // The seat invariant is the database's, not only the code's.
    let rows = Rows::new(&conn).await;
    let over = rows.license(&conn, 1, 2).await;
    assert!(
        over.is_err(),
        "seats_used above seats_total must be refused by the database"
    );
    assert!(rows.license(&conn, 2, 2).await.is_ok());
}

#[tokio::test]
async fn webhook_deliveries_written_before_they_named_their_owner_are_given_it() {
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait, Value};
    let (url, _guard) = fresh_database().await;
    let config = test_config(&url, &[]);
    let (conn, _) = db::connect(&config.database).await.expect("connect");
    db::migrate_up(&conn).await.expect("up");
    let rows = Rows::new(&conn).await;
    // Back to before deliveries named their owner, and a delivery written then.
    db::migrate_down(&conn, Some(1)).await.expect("down one");
    let (endpoint, delivery) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let now = Value::from(chrono::Utc::now().fixed_offset());
    let insert = |table: &str, columns: &[&str], values: Vec<Value>| {
        let mut statement = Query::insert();
        statement
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)))
            .values_panic(values.into_iter().map(Into::into));
        conn.get_database_backend().build(&statement)
    };
    conn.execute_raw(insert(
        "webhook_endpoints",
        &[
            "id",
            "owner_id",
            "url",
            "event_types",
            "secret_seed",
            "created_at",
        ],
        vec![
            endpoint.into(),
            rows.developer_id.into(),
            "https://hooks.example.com/".into(),
            "*".into(),
            "seed".into(),
            now.clone(),
        ],
    ))
    .await
    .expect("endpoint");
    conn.execute_raw(insert(
        "webhook_deliveries",
        &[
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "payload",
            "status",
            "retry_until",
            "created_at",
            "delivered_at",
        ],
        vec![
            delivery.into(),
            endpoint.into(),
            uuid::Uuid::now_v7().into(),
            "license.updated".into(),
            serde_json::json!({}).into(),
            "succeeded".into(),
            now.clone(),
            now.clone(),
            now,
        ],
    ))
    .await
    .expect("delivery");

    db::migrate_up(&conn).await.expect("up again");
    let found = entity::prelude::WebhookDeliveries::find_by_id(delivery)
        .one(&conn)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(found.owner_id, rows.developer_id);
}
