//! `seed --scale`: the bulk load writes what it says, consistent enough to be read through the
//! API as any other data (PostgreSQL); SQLite refuses it with a reason.

use crate::helpers::{on_postgres, spawn_app};
use entity::prelude::*;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

#[tokio::test]
async fn a_scale_load_is_read_through_the_api_like_any_data() {
    let app = spawn_app().await;
    let loaded = api::scale_seed::run(&app.state, 30).await;
    if !on_postgres() {
        let refused = loaded.expect_err("SQLite refuses");
        assert!(refused.to_string().contains("PostgreSQL"), "{refused}");
        return;
    }
    loaded.expect("loaded");
    let db = &app.state.db;
    assert_eq!(Licenses::find().count(db).await.expect("count"), 300);
    assert_eq!(
        LicenseAssignments::find().count(db).await.expect("count"),
        600
    );
    assert_eq!(RuntimeNodes::find().count(db).await.expect("count"), 300);
    assert_eq!(Instances::find().count(db).await.expect("count"), 30);

    // A loaded developer signs in with the shared password and sees its own ten licenses,
    // each with its two seats and its live node.
    let email = Users::find()
        .all(db)
        .await
        .expect("users")
        .into_iter()
        .find(|u| u.role == "developer" && u.email.starts_with("scale-"))
        .expect("a loaded developer")
        .email;
    let login = app
        .graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": email, "p": api::scale_seed::PASSWORD }),
            None,
        )
        .await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();
    let own = app
        .graphql(
            "{ licenses(first: 50) { totalCount edges { node { seatsUsed assignments { status } runtimeNodes { alive } } } } }",
            json!({}),
            Some(&token),
        )
        .await;
    let connection = &own["data"]["licenses"];
    assert_eq!(connection["totalCount"], 10, "{own}");
    for edge in connection["edges"].as_array().expect("edges") {
        let license = &edge["node"];
        assert_eq!(license["seatsUsed"], 2, "{license}");
        assert_eq!(license["assignments"].as_array().map(Vec::len), Some(2));
        assert_eq!(license["runtimeNodes"][0]["alive"], true, "{license}");
    }
    // The indexes set aside for the load are back.
    let indexes: i64 = sea_orm::ConnectionTrait::query_one_raw(
        db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'licenses_expires_order_idx'",
        ),
    )
    .await
    .expect("query")
    .expect("row")
    .try_get("", "n")
    .expect("n");
    assert_eq!(indexes, 1);
}
