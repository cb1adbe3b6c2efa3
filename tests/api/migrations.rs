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
