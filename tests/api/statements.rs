use crate::helpers::{Rows, spawn_app, spawn_app_with, spawn_patient_app};
use chrono::Utc;
use entity::{licenses, prelude::*, users};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn nested_developers_licenses_plans_cost_one_statement_per_level() {
    let app = spawn_patient_app().await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    for n in 0..50 {
        let developer = Rows::developer(db, &format!("bulk{n:02}@example.com")).await;
        for k in 0..3 {
            let plan = rows.plan_ids[(n + k) % rows.plan_ids.len()];
            rows.license_for(db, developer, plan, 5, 0)
                .await
                .expect("license");
        }
    }
    let admin = app.admin_token().await;
    let query = "{ developers(first: 50, filter: { emailContains: \"bulk\" }) { edges { node { email licenses { plan { code } } } } } }";

    let (body, spent) = app.graphql_counted(query, json!({}), Some(&admin)).await;

    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len(), 50, "{body}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["licenses"].as_array().map(Vec::len) == Some(3))
    );
    assert!(spent <= 4, "{spent} SQL statements for a three-level query");

    // The loader really batches: one developer's licenses match what the database holds.
    let first = Users::find()
        .filter(users::Column::Email.eq("bulk00@example.com"))
        .one(db)
        .await
        .expect("query")
        .expect("row");
    let stored = Licenses::find()
        .filter(licenses::Column::DeveloperId.eq(first.id))
        .all(db)
        .await
        .expect("licenses");
    assert_eq!(stored.len(), 3);
}

/// A page of developers loads all their licenses in one statement, and those licenses all
/// their seats in one more, however the requests interleave: each list knows its keys, so no
/// level waits for a batch window (the one configured here is far longer than the answer).
#[tokio::test]
async fn lists_load_each_relation_once_for_all_their_members_without_waiting() {
    let app = spawn_app_with(&[("DATALOADER_DELAY_MICROS", "5000000")]).await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    for n in 0..12 {
        let developer = Rows::developer(db, &format!("sibling{n:02}@example.com")).await;
        for k in 0..2 {
            let plan = rows.plan_ids[(n + k) % rows.plan_ids.len()];
            let license = rows
                .license_for(db, developer, plan, 3, 0)
                .await
                .expect("license");
            Rows::seat(db, license.id, developer).await;
        }
    }
    let admin = app.admin_token().await;
    // `utilizationPercent` is not a field PostgreSQL shapes (`shaped`): the licenses load
    // through the engine on both backends, and their seats and nodes for all of them at once
    // either way.
    let query = "{ developers(first: 12, filter: { emailContains: \"sibling\" }) { edges { node { email licenses { id utilizationPercent assignments { status } runtimeNodes { id } } } } } }";

    let started = std::time::Instant::now();
    let (body, spent) = app.graphql_counted(query, json!({}), Some(&admin)).await;
    let took = started.elapsed();

    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len(), 12, "{body}");
    for edge in edges {
        let licenses = edge["node"]["licenses"].as_array().expect("licenses");
        assert_eq!(licenses.len(), 2, "{body}");
        for license in licenses {
            assert_eq!(license["assignments"][0]["status"], "ACTIVE", "{body}");
            assert_eq!(license["runtimeNodes"].as_array().map(Vec::len), Some(0));
        }
    }
    // developers, their licenses, the licenses' seats, the licenses' nodes.
    assert_eq!(spent, 4, "{spent} statements for four lists");
    assert!(
        took < std::time::Duration::from_secs(4),
        "a level waited for the batch window: {took:?}"
    );
}

/// Each member of a list takes its rows of a relation from the list's shared load; the same
/// relation asked twice under two names still answers both in full.
#[tokio::test]
async fn a_relation_selected_twice_under_two_names_answers_both() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    for n in 0..3 {
        let developer = Rows::developer(db, &format!("twice{n}@example.com")).await;
        for k in 0..2 {
            let plan = rows.plan_ids[k % rows.plan_ids.len()];
            rows.license_for(db, developer, plan, 3, 0)
                .await
                .expect("license");
        }
    }
    let admin = app.admin_token().await;
    let query = "{ developers(first: 3, filter: { emailContains: \"twice\" }) { edges { node { first: licenses { id } second: licenses { id seatsTotal } } } } }";

    let body = app.graphql(query, json!({}), Some(&admin)).await;

    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(edges.len(), 3, "{body}");
    for edge in edges {
        let first = edge["node"]["first"].as_array().expect("first");
        let second = edge["node"]["second"].as_array().expect("second");
        assert_eq!(first.len(), 2, "{body}");
        let ids =
            |list: &[serde_json::Value]| list.iter().map(|l| l["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(first), ids(second), "{body}");
        assert_eq!(second[0]["seatsTotal"], 3, "{body}");
    }
}

/// Sibling loads of concurrent requests share statements in the edge's lanes; each request
/// still gets its own rows and no one else's.
#[tokio::test]
async fn concurrent_requests_sharing_a_statement_each_get_their_own_rows() {
    let app = spawn_app().await;
    let mut developers = Vec::new();
    for n in 0..10 {
        let developer = app
            .developer(&format!("concurrent{n}@example.com"), "pro")
            .await;
        developers.push(developer);
    }
    let query = "{ me { id licenses { id developer { id } assignments { id } } } }";
    for _round in 0..5 {
        let answers = futures_util::future::join_all(
            developers
                .iter()
                .map(|d| app.graphql(query, json!({}), Some(&d.token))),
        )
        .await;
        for (developer, body) in developers.iter().zip(answers) {
            let licenses = body["data"]["me"]["licenses"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"));
            assert_eq!(licenses.len(), 1, "{body}");
            assert_eq!(
                licenses[0]["id"],
                developer.license_id.to_string(),
                "{body}"
            );
            assert_eq!(licenses[0]["developer"]["id"], developer.id.to_string());
        }
    }
}

#[tokio::test]
async fn validating_a_license_is_one_statement() {
    let app = spawn_app().await;
    let key = app.developer("hot@example.com", "pro").await.license_key;
    app.node(&key, "fp").await;
    let query = "query($k: String!) { validateLicense(key: $k, fingerprint: \"fp\", product: \"core\") { valid code license { state expiresAt } } }";
    let (body, spent) = app.graphql_counted(query, json!({ "k": key }), None).await;
    assert_eq!(body["data"]["validateLicense"]["code"], "VALID", "{body}");
    assert_eq!(spent, 1, "one indexed lookup answers a validation");
}

async fn licenses_query_cost(count: usize) -> u64 {
    let app = spawn_patient_app().await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    for n in 0..count {
        let developer = Rows::developer(db, &format!("owner{n:03}@example.com")).await;
        let license = rows
            .license_for(db, developer, rows.plan_ids[n % rows.plan_ids.len()], 5, 0)
            .await
            .expect("license");
        let member = Rows::developer(db, &format!("member{n:03}@example.com")).await;
        Rows::seat(db, license.id, member).await;
        entity::runtime_nodes::ActiveModel {
            id: Set(Uuid::now_v7()),
            license_id: Set(license.id),
            fingerprint: Set(format!("fp-{n}")),
            status: Set("active".into()),
            last_check_in_at: Set(Utc::now().into()),
            heartbeat_deadline_at: Set(Utc::now().into()),
            activated_at: Set(Utc::now().into()),
            created_at: Set(Utc::now().into()),
            updated_at: Set(Utc::now().into()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("node");
    }
    let admin = app.admin_token().await;
    let query = "{ licenses(first: 50) { edges { node { runtimeNodes { id } assignments { user { email } } plan { code } developer { email } } } } }";
    let (body, spent) = app.graphql_counted(query, json!({}), Some(&admin)).await;
    let edges = body["data"]["licenses"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), count.min(50), "{body}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["assignments"][0]["user"]["email"].is_string())
    );
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["runtimeNodes"].as_array().map(Vec::len) == Some(1))
    );
    spent
}

#[tokio::test]
async fn nested_licenses_query_costs_the_same_for_five_or_fifty() {
    // One statement per relation level at most: the licenses, their nodes, their assignments,
    // their plans, and the users (developers, and the assignments' users a level down, which
    // may or may not still be waiting in the same batch: five statements or six, by timing).
    let few = licenses_query_cost(5).await;
    let many = licenses_query_cost(50).await;
    assert!(few <= 6, "{few} statements for five licenses");
    assert!(
        many <= 6,
        "{many} statements for fifty licenses: the count must not grow with rows"
    );
}

#[tokio::test]
async fn answers_never_read_password_hashes() {
    let app = spawn_app().await;
    let developer = app.developer("hashless@example.com", "pro").await;
    let admin = app.admin_token().await;
    app.statements.record();
    let own = app
        .graphql(
            "{ me { email } licenses { edges { node { developer { email } } } } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    let listed = app
        .graphql(
            "query($id: UUID!) { developers(first: 5) { edges { node { email } } } developer(id: $id) { email } }",
            json!({ "id": developer.id }),
            Some(&admin),
        )
        .await;
    let sent = app.statements.take_recorded();
    assert_eq!(own["data"]["me"]["email"], "hashless@example.com", "{own}");
    assert!(listed["errors"].is_null(), "{listed}");
    let reads_users: Vec<&str> = sent
        .iter()
        .map(|s| s.sql.as_str())
        .filter(|sql| sql.contains("FROM \"users\""))
        .collect();
    assert!(reads_users.len() >= 3, "{reads_users:?}");
    for sql in reads_users {
        assert!(!sql.contains("\"password_hash\","), "{sql}");
        assert!(!sql.contains("\"users\".\"password_hash\""), "{sql}");
    }
}

/// A license looked up alone loads its plan and its developer at once, a statement each,
/// without waiting for the dataloader's batching window (two seconds here); the licenses of a
/// list still gather their plans through it, in one statement.
#[tokio::test]
async fn a_lookup_loads_what_it_leads_to_without_waiting() {
    let app = spawn_app_with(&[("DATALOADER_DELAY_MICROS", "2000000")]).await;
    let dev = app.developer("alone@example.com", "pro").await;
    let db = &app.state.db;
    let rows = Rows::new(db).await;
    for plan in rows.plan_ids.iter().take(2) {
        rows.license_for(db, dev.id, *plan, 2, 0)
            .await
            .expect("license");
    }
    let lookup = "query($id: UUID!) { license(id: $id) { id plan { code } developer { email } } }";
    let started = std::time::Instant::now();
    let (body, spent) = app
        .graphql_counted(lookup, json!({ "id": dev.license_id }), Some(&dev.token))
        .await;
    let took = started.elapsed();
    assert_eq!(body["data"]["license"]["plan"]["code"], "pro", "{body}");
    let email = &body["data"]["license"]["developer"]["email"];
    assert_eq!(email, "alone@example.com", "{body}");
    assert!(
        took < std::time::Duration::from_secs(1),
        "the lookup waited {took:?}"
    );
    assert!(
        spent <= 3,
        "{spent} statements: the license, its plan, its developer"
    );

    // Through the engine (a fragment), each listed license asks for its plan: one statement
    // for all of them, once the window closes.
    // (Counted by what they read: the request waits two seconds, and background work may run
    // statements of its own meanwhile.)
    let listed = "{ me { licenses { ... on License { plan { code } } } } }";
    let started = std::time::Instant::now();
    app.statements.record();
    let body = app.graphql(listed, json!({}), Some(&dev.token)).await;
    let sent = app.statements.take_recorded();
    let took = started.elapsed();
    let plan_reads = sent
        .iter()
        .filter(|statement| statement.sql.contains("FROM \"plans\""))
        .count();
    let licenses = body["data"]["me"]["licenses"].as_array().expect("licenses");
    assert_eq!(licenses.len(), 3, "{body}");
    assert!(
        licenses.iter().all(|l| l["plan"]["code"].is_string()),
        "{body}"
    );
    assert!(
        took >= std::time::Duration::from_secs(2),
        "the list did not gather: {took:?}"
    );
    assert_eq!(
        plan_reads, 1,
        "the plans of three licenses in one statement"
    );
}
