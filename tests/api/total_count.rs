//! `totalCount` is exact up to `GRAPHQL_EXACT_COUNT_LIMIT` matches and, past it, PostgreSQL's
//! estimate for the same filter, flagged by `totalCountIsEstimate`; SQLite counts on.

use crate::helpers::{Rows, on_postgres, spawn_app_with};
use sea_orm::ConnectionTrait;
use serde_json::json;

const COUNTS: &str = r#"query($filter: LicenseFilterInput) {
    licenses(first: 1, filter: $filter) { totalCount totalCountIsEstimate }
}"#;

#[tokio::test]
async fn counts_are_exact_up_to_the_limit_and_estimated_past_it() {
    let app = spawn_app_with(&[("GRAPHQL_EXACT_COUNT_LIMIT", "5")]).await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    let few = Rows::developer(db, "few@example.com").await;
    let many = Rows::developer(db, "many@example.com").await;
    for _ in 0..3 {
        rows.license_for(db, few, rows.plan_ids[0], 1, 0)
            .await
            .expect("license");
    }
    for _ in 0..9 {
        rows.license_for(db, many, rows.plan_ids[0], 1, 0)
            .await
            .expect("license");
    }
    if on_postgres() {
        db.execute_unprepared("ANALYZE licenses")
            .await
            .expect("analyze");
    }
    let admin = app.admin_token().await;
    let count = |filter: serde_json::Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let body = app
                .graphql(COUNTS, json!({ "filter": filter }), Some(admin))
                .await;
            assert!(body["errors"].is_null(), "{body}");
            let connection = body["data"]["licenses"].clone();
            (
                connection["totalCount"].as_u64().expect("a count"),
                connection["totalCountIsEstimate"]
                    .as_bool()
                    .expect("a flag"),
            )
        }
    };

    // Within the limit: exact.
    assert_eq!(count(json!({ "developerId": few })).await, (3, false));
    // Past it: PostgreSQL answers its estimate (its statistics are fresh, so it is right here);
    // SQLite has none and counts every row.
    let all = count(json!(null)).await;
    if on_postgres() {
        assert!(all.1, "{all:?}");
        assert!(all.0 > 5, "an estimate past the limit: {all:?}");
        assert_eq!(all.0, 12, "{all:?}");
    } else {
        assert_eq!(all, (12, false));
    }
    let theirs = count(json!({ "developerId": many })).await;
    assert!(theirs.0 > 5, "{theirs:?}");
    assert_eq!(theirs.1, on_postgres(), "{theirs:?}");

    // Asked alone, the flag still counts.
    let body = app
        .graphql(
            "{ licenses(first: 1) { totalCountIsEstimate } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        body["data"]["licenses"]["totalCountIsEstimate"],
        on_postgres(),
        "{body}"
    );
}
