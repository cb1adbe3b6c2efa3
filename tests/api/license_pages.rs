//! Keyset pages of `licenses`: walking every page of every order gives each license once, in
//! the order the whole list has (ties broken by id, licenses that never expire last ascending
//! and first descending), and a cursor of one order is refused by another.

use crate::helpers::{Rows, TestApp, error_code, on_postgres, spawn_app, spawn_app_with};
use entity::{licenses, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const PAGE: &str = r#"query($first: Int, $after: String, $order: LicenseOrder, $filter: LicenseFilterInput) {
    licenses(first: $first, after: $after, orderBy: $order, filter: $filter) {
        edges { cursor node { id expiresAt seatsTotal seatsUsed } }
        pageInfo { hasNextPage }
    }
}"#;

/// Every page of the list in `order`, `first` at a time: the ids in the order received.
async fn walk(app: &TestApp, token: &str, order: Value, filter: Value, first: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let body = app
            .graphql(
                PAGE,
                json!({ "first": first, "after": after, "order": order, "filter": filter }),
                Some(token),
            )
            .await;
        let connection = &body["data"]["licenses"];
        let edges = connection["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"));
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap_or("?").to_owned()),
        );
        if connection["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = edges
            .last()
            .and_then(|e| e["cursor"].as_str())
            .map(str::to_owned);
    }
    panic!("more pages than licenses");
}

/// The licenses as the database holds them, sorted here by the documented order.
async fn expected(app: &TestApp, field: &str, descending: bool) -> Vec<String> {
    let mut rows = Licenses::find().all(&app.state.db).await.expect("licenses");
    let utilization = |l: &licenses::Model| {
        if l.seats_total > 0 {
            f64::from(l.seats_used) / f64::from(l.seats_total)
        } else {
            0.0
        }
    };
    rows.sort_by(|a, b| {
        let by_key = match field {
            "EXPIRES_AT" => match (a.expires_at, b.expires_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
            "UTILIZATION" => utilization(a).total_cmp(&utilization(b)),
            _ => a.created_at.cmp(&b.created_at),
        };
        by_key.then(a.id.cmp(&b.id))
    });
    if descending {
        rows.reverse();
    }
    rows.into_iter().map(|l| l.id.to_string()).collect()
}

#[tokio::test]
async fn every_order_pages_through_each_license_once_in_order() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("pages@example.com", "pro").await;
    let mut ids = vec![developer.license_id];
    for _ in 0..13 {
        let created = app
            .graphql(
                "mutation($input: CreateLicenseInput!) { createLicense(input: $input) { license { id } } }",
                json!({ "input": { "developerId": developer.id, "planCode": "pro" } }),
                Some(&admin),
            )
            .await;
        let id = created["data"]["createLicense"]["license"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"));
        ids.push(Uuid::parse_str(id).expect("uuid"));
    }
    // Ties on every key, and licenses that never expire.
    let same_day = chrono::Utc::now().fixed_offset() + chrono::Duration::days(40);
    for (n, id) in ids.iter().enumerate() {
        let expires = match n % 4 {
            0 => None,
            1 => Some(same_day),
            _ => Some(same_day + chrono::Duration::hours(n as i64)),
        };
        Licenses::update_many()
            .col_expr(licenses::Column::ExpiresAt, Expr::value(expires))
            .col_expr(
                licenses::Column::SeatsTotal,
                Expr::value(3 + (n % 2) as i32),
            )
            .col_expr(licenses::Column::SeatsUsed, Expr::value((n % 3) as i32))
            .filter(licenses::Column::Id.eq(*id))
            .exec(&app.state.db)
            .await
            .expect("update");
    }
    for field in ["CREATED_AT", "EXPIRES_AT", "UTILIZATION"] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let want = expected(&app, field, direction == "DESC").await;
            for first in [1, 3, 5] {
                let got = walk(&app, &admin, order.clone(), json!({}), first).await;
                assert_eq!(got, want, "{field} {direction}, {first} a page");
            }
        }
    }
    // The developer's own list pages the same way.
    let own = walk(
        &app,
        &developer.token,
        json!({ "field": "EXPIRES_AT" }),
        json!({}),
        4,
    )
    .await;
    assert_eq!(own, expected(&app, "EXPIRES_AT", false).await);
}

#[tokio::test]
async fn a_cursor_of_one_order_is_refused_by_another() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.developer("cursor-a@example.com", "solo").await;
    app.developer("cursor-b@example.com", "solo").await;
    let first = app
        .graphql(
            PAGE,
            json!({ "first": 1, "order": { "field": "UTILIZATION" } }),
            Some(&admin),
        )
        .await;
    let cursor = first["data"]["licenses"]["edges"][0]["cursor"].clone();
    assert!(cursor.is_string(), "{first}");
    let refused = app
        .graphql(
            PAGE,
            json!({ "first": 1, "after": cursor, "order": { "field": "EXPIRES_AT" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    let garbage = app
        .graphql(
            PAGE,
            json!({ "first": 1, "after": "not-a-cursor" }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&garbage), Some("VALIDATION"), "{garbage}");
}

#[tokio::test]
async fn search_matches_words_key_starts_and_plans() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let developer = app.developer("search@example.com", "pro").await;
    Licenses::update_many()
        .col_expr(licenses::Column::Dba, Expr::value("Marigold Florist"))
        .filter(licenses::Column::Id.eq(developer.license_id))
        .exec(&app.state.db)
        .await
        .expect("update");
    app.developer("other@example.com", "solo").await;
    let key_start: String = developer.license_key.chars().take(4).collect();
    let whole_key_group: String = developer
        .license_key
        .split('-')
        .next()
        .unwrap_or("")
        .to_owned();
    for (search, found) in [
        ("marigold", 1),
        ("Marigold florist", 1),
        ("florist zebra", 0),
        ("pro", 1),
        ("!!!", 0),
        (key_start.as_str(), 1),
        (developer.license_key.as_str(), 1),
        (whole_key_group.as_str(), 1),
    ] {
        let ids = walk(&app, &admin, json!({}), json!({ "search": search }), 10).await;
        assert_eq!(ids.len(), found, "{search}: {ids:?}");
    }
}

/// Sets a license's DBA name, which search reads.
async fn name(app: &TestApp, id: Uuid, dba: &str) {
    Licenses::update_many()
        .col_expr(licenses::Column::Dba, Expr::value(dba))
        .filter(licenses::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .expect("update");
}

#[tokio::test]
async fn relevance_ranks_a_search_and_pages_through_it_once() {
    let app = spawn_app_with(&[("GRAPHQL_EXACT_COUNT_LIMIT", "4")]).await;
    let admin = app.admin_token().await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    let mut ids = Vec::new();
    for dba in [
        "Acme Widgets",
        "Acme Acme Acme Widgets",
        "Other Widgets",
        "Acme",
        "Acme Supplies",
    ] {
        let license = rows
            .license_for(db, rows.developer_id, rows.plan_ids[0], 1, 0)
            .await
            .expect("license");
        name(&app, license.id, dba).await;
        ids.push(license.id.to_string());
    }
    let relevance = json!({ "field": "RELEVANCE", "direction": "DESC" });
    let search = json!({ "search": "acme" });

    let whole = walk(&app, &admin, relevance.clone(), search.clone(), 10).await;
    let mut matched = whole.clone();
    matched.sort();
    let mut acme: Vec<String> = [0, 1, 3, 4].iter().map(|&i| ids[i].clone()).collect();
    acme.sort();
    assert_eq!(matched, acme, "every match once, nothing else");
    if on_postgres() {
        // Three mentions rank above one; equal ranks keep the id order (descending here).
        assert_eq!(whole[0], ids[1], "{whole:?}");
        let mut rest = [ids[0].clone(), ids[3].clone(), ids[4].clone()];
        rest.sort();
        rest.reverse();
        assert_eq!(whole[1..], rest[..], "{whole:?}");
    } else {
        // SQLite does not rank: the order is the ids'.
        let mut by_id = acme.clone();
        by_id.reverse();
        assert_eq!(whole, by_id);
    }
    // A page at a time, through the cursors, gives the same order.
    assert_eq!(
        walk(&app, &admin, relevance.clone(), search.clone(), 1).await,
        whole
    );
    let ascending = json!({ "field": "RELEVANCE", "direction": "ASC" });
    let mut reversed = whole.clone();
    reversed.reverse();
    assert_eq!(
        walk(&app, &admin, ascending, search.clone(), 2).await,
        reversed
    );

    // Relevance needs a search, and one with no more matches than are counted exactly.
    let unsearched = app
        .graphql(PAGE, json!({ "order": relevance }), Some(&admin))
        .await;
    assert_eq!(error_code(&unsearched), Some("VALIDATION"), "{unsearched}");
    name(&app, Uuid::parse_str(&ids[2]).expect("uuid"), "Acme Other").await;
    let broad = app
        .graphql(
            PAGE,
            json!({ "order": relevance, "filter": search }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&broad), Some("VALIDATION"), "{broad}");
    assert!(
        broad["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many to rank")),
        "{broad}"
    );
}
