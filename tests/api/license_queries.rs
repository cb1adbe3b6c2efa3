use crate::helpers::{TestApp, error_code, spawn_app};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const LICENSES: &str = r#"query($first: Int, $after: String, $filter: LicenseFilterInput, $order: LicenseOrder) {
    licenses(first: $first, after: $after, filter: $filter, orderBy: $order) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id keyPrefix seatsUsed plan { code } developer { email } } }
    }
}"#;

fn emails(body: &Value) -> Vec<String> {
    body["data"]["licenses"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {body}"))
        .iter()
        .filter_map(|e| e["node"]["developer"]["email"].as_str().map(str::to_owned))
        .collect()
}

async fn set_license(app: &TestApp, id: &str, column: licenses::Column, value: sea_orm::Value) {
    Licenses::update_many()
        .col_expr(column, Expr::value(value))
        .filter(licenses::Column::Id.eq(uuid::Uuid::parse_str(id).expect("uuid")))
        .exec(&app.state.db)
        .await
        .expect("update");
}

#[tokio::test]
async fn licenses_filter_sort_search_and_page() {
    let app = spawn_app().await;
    let a = app.signup("alpha@example.com", "solo").await;
    let b = app.signup("bravo@example.com", "agency_pro").await;
    let c = app.signup("charlie@example.com", "pro").await;
    let admin = app.admin_token().await;
    let id = |v: &Value| v["license"]["id"].as_str().expect("id").to_owned();
    set_license(&app, &id(&b), licenses::Column::SeatsUsed, 15.into()).await; // 75%
    set_license(&app, &id(&c), licenses::Column::SeatsUsed, 1.into()).await; // 33%
    set_license(
        &app,
        &id(&c),
        licenses::Column::Dba,
        Some("Acme Dental Group".to_owned()).into(),
    )
    .await;

    let all = app.graphql(LICENSES, json!({}), Some(&admin)).await;
    assert_eq!(all["data"]["licenses"]["totalCount"], 3, "{all}");

    let on_plan = app
        .graphql(
            LICENSES,
            json!({ "filter": { "planCode": "agency_pro" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(emails(&on_plan), ["bravo@example.com"]);

    let by_util = app
        .graphql(
            LICENSES,
            json!({ "order": { "field": "UTILIZATION", "direction": "DESC" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        emails(&by_util),
        [
            "bravo@example.com",
            "charlie@example.com",
            "alpha@example.com"
        ]
    );

    let acme = app
        .graphql(
            LICENSES,
            json!({ "filter": { "search": "acme" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(emails(&acme), ["charlie@example.com"], "{acme}");
    let prefix = a["license"]["keyPrefix"].as_str().expect("prefix");
    let by_prefix = app
        .graphql(
            LICENSES,
            json!({ "filter": { "search": prefix } }),
            Some(&admin),
        )
        .await;
    assert_eq!(emails(&by_prefix), ["alpha@example.com"], "{by_prefix}");
    let by_plan = app
        .graphql(
            LICENSES,
            json!({ "filter": { "search": "agency" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(emails(&by_plan), ["bravo@example.com"], "{by_plan}");

    let page1 = app
        .graphql(LICENSES, json!({ "first": 2 }), Some(&admin))
        .await;
    assert_eq!(page1["data"]["licenses"]["pageInfo"]["hasNextPage"], true);
    let cursor = page1["data"]["licenses"]["pageInfo"]["endCursor"].clone();
    let page2 = app
        .graphql(
            LICENSES,
            json!({ "first": 2, "after": cursor }),
            Some(&admin),
        )
        .await;
    assert_eq!(emails(&page2), ["charlie@example.com"]);
    assert_eq!(page2["data"]["licenses"]["pageInfo"]["hasNextPage"], false);

    // A developer sees only its own, whatever it asks for.
    let own = app
        .graphql(LICENSES, json!({}), a["accessToken"].as_str())
        .await;
    assert_eq!(emails(&own), ["alpha@example.com"]);
    let others = app
        .graphql(
            LICENSES,
            json!({ "filter": { "developerId": b["developer"]["id"] } }),
            a["accessToken"].as_str(),
        )
        .await;
    assert!(emails(&others).is_empty());
    let anonymous = app.graphql(LICENSES, json!({}), None).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}
