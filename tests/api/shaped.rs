//! Relation lists PostgreSQL shapes (`api/src/graphql/shaped`) answer as the engine does: every
//! described field is a plain field of its type, and one document over every described field
//! answers the same text shaped as through the engine (asked through inline fragments, which
//! the shaped path leaves to it), for an admin, a developer and a team member, with fewer
//! statements on PostgreSQL.

use crate::helpers::{Rows, Subscription, TestApp, export_sdl, spawn_app};
use crate::idempotency::keyed;
use crate::plain_fields::raw_answer;
use api::domain::accounts::schema::UserObject;
use api::domain::accounts::shaped::USER;
use api::domain::licenses::schema::LicenseObject;
use api::domain::licenses::shaped::LICENSE;
use api::domain::nodes::schema::RuntimeNodeObject;
use api::domain::plans::schema::PlanObject;
use api::domain::seats::schema::AssignmentObject;
use api::graphql::plain::PlainFields;
use api::graphql::scope_check::FieldTypes;
use api::graphql::shaped::{self, Table};
use entity::{licenses, runtime_nodes};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

/// Each described type, its table and its plain fields.
fn described() -> Vec<(&'static Table, &'static [&'static str])> {
    let relation = |name: &str| {
        LICENSE
            .relations
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.target)
            .expect("relation")
    };
    vec![
        (&USER, UserObject::NAMES),
        (&LICENSE, LicenseObject::NAMES),
        (relation("assignments"), AssignmentObject::NAMES),
        (relation("runtimeNodes"), RuntimeNodeObject::NAMES),
        (relation("plan"), PlanObject::NAMES),
    ]
}

#[test]
fn every_described_field_is_a_plain_field_of_its_type() {
    let schema = FieldTypes::from_sdl(&export_sdl());
    for (table, plain) in described() {
        let fields: Vec<&str> = schema.fields(table.type_name).collect();
        assert!(
            !table.columns.is_empty(),
            "{} describes no fields",
            table.type_name
        );
        for column in table.columns {
            assert!(
                plain.contains(&column.name),
                "{}.{} is described but is not a plain field",
                table.type_name,
                column.name
            );
        }
        for relation in table.relations {
            assert!(
                fields.contains(&relation.name),
                "{}.{} is not a field",
                table.type_name,
                relation.name
            );
        }
    }
}

/// Every described field of `table` and its relations (each type once on a path, so that the
/// relations between them end), with `__typename` and an alias, the relations in the middle;
/// through an inline fragment when `engine`.
fn selection(table: &Table, engine: bool) -> String {
    selection_within(table, engine, &mut Vec::new())
}

fn selection_within(table: &Table, engine: bool, path: &mut Vec<&'static str>) -> String {
    path.push(table.type_name);
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let (first, rest) = names.split_at(names.len() / 2);
    let mut relations = Vec::new();
    for relation in table.relations {
        if !path.contains(&relation.target.type_name) {
            let inner = selection_within(relation.target, engine, path);
            relations.push(format!("{} {inner}", relation.name));
        }
    }
    path.pop();
    let inner = format!(
        "__typename alias: id {} {} {}",
        first.join(" "),
        relations.join(" "),
        rest.join(" ")
    );
    if engine {
        format!("{{ ... on {} {{ {inner} }} }}", table.type_name)
    } else {
        format!("{{ {inner} }}")
    }
}

fn many(name: &str) -> &'static Table {
    LICENSE
        .relations
        .iter()
        .find(|r| r.name == name && matches!(r.rows, shaped::Rows::Many { .. }))
        .map(|r| r.target)
        .expect("list relation")
}

/// The answer to `query` shaped and through the engine, and the statements each took.
async fn both_ways(
    app: &TestApp,
    query: impl Fn(bool) -> String,
    vars: Value,
    token: &str,
) -> ((String, u64), (String, u64)) {
    let mut answers = Vec::new();
    for engine in [false, true] {
        let before = app.statements.get();
        let text = raw_answer(app, &query(engine), vars.clone(), token).await;
        answers.push((text, app.statements.get() - before));
    }
    let engine = answers.pop().expect("engine");
    let shaped = answers.pop().expect("shaped");
    (shaped, engine)
}

fn checked(text: &str) -> Value {
    let parsed: Value = serde_json::from_str(text).expect("JSON");
    assert!(parsed.get("errors").is_none(), "{text}");
    parsed
}

#[tokio::test]
async fn shaped_relations_answer_as_the_engine_does() {
    let app = spawn_app().await;
    let postgres = app.state.db.get_database_backend() == DbBackend::Postgres;
    let owner = app.developer("shaped@example.com", "pro").await;
    app.developer("other@example.com", "solo").await;
    let member = app.team_member(&owner, "member@example.com").await;
    app.node(&owner.license_key, "node-live").await;
    let gone = app.node(&owner.license_key, "node-gone").await;
    let seat = app
        .graphql(
            "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"member@example.com\") { id } }",
            json!({ "l": owner.license_id }),
            Some(&owner.token),
        )
        .await;
    assert!(seat["data"]["assignSeat"]["id"].is_string(), "{seat}");
    // Values of every kind, nulls beside them, and instants whose fractions PostgreSQL and the
    // engine write differently (none; fewer than six digits).
    let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).expect("instant");
    let db = &app.state.db;
    licenses::Entity::update_many()
        .col_expr(licenses::Column::Dba, Expr::value("Acme"))
        .col_expr(licenses::Column::Zip, Expr::value("10001"))
        .col_expr(licenses::Column::Agents, Expr::value(3))
        .col_expr(licenses::Column::Notes, Expr::value(Option::<String>::None))
        .col_expr(
            licenses::Column::ExpiresAt,
            Expr::value(at("2030-01-01T00:00:00Z")),
        )
        .col_expr(
            licenses::Column::TrialEndsAt,
            Expr::value(at("2030-01-01T00:00:00.12Z")),
        )
        .filter(licenses::Column::Id.eq(owner.license_id))
        .exec(db)
        .await
        .expect("license");
    runtime_nodes::Entity::update_many()
        .col_expr(runtime_nodes::Column::Status, Expr::value("deactivated"))
        .col_expr(
            runtime_nodes::Column::DeactivatedAt,
            Expr::value(at("2026-01-01T00:00:00Z")),
        )
        .filter(runtime_nodes::Column::Id.eq(gone.parse::<uuid::Uuid>().expect("id")))
        .exec(db)
        .await
        .expect("node");
    // More licenses, and seats on them, so that the lists' order is compared too.
    let rows = Rows::new(db).await;
    for n in 0..3 {
        let license = rows
            .license_for(db, owner.id, rows.plan_ids[n % rows.plan_ids.len()], 4, 2)
            .await
            .expect("license");
        for holder in [owner.id, member.id] {
            Rows::seat(db, license.id, holder).await;
        }
    }
    let admin = app.admin_token().await;

    let listed = |engine: bool| {
        format!(
            "{{ developers(first: 5) {{ edges {{ node {{ id licenses {} }} }} }} }}",
            selection(&LICENSE, engine)
        )
    };
    let ((shaped, shaped_spent), (engine, engine_spent)) =
        both_ways(&app, listed, json!({}), &admin).await;
    let parsed = checked(&shaped);
    assert_eq!(shaped, engine, "the admin's listing");
    let license = parsed["data"]["developers"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .flat_map(|edge| {
            edge["node"]["licenses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|license| license["id"] == owner.license_id.to_string())
        .expect("the owner's license");
    assert_eq!(license["__typename"], "License", "{shaped}");
    assert_eq!(license["dba"], "Acme", "{shaped}");
    assert_eq!(license["notes"], Value::Null, "{shaped}");
    assert_eq!(
        license["trialEndsAt"], "2030-01-01T00:00:00.120+00:00",
        "{shaped}"
    );
    assert_eq!(
        license["expiresAt"], "2030-01-01T00:00:00+00:00",
        "{shaped}"
    );
    assert_eq!(license["plan"]["code"], "pro", "{shaped}");
    assert_eq!(license["assignments"][0]["status"], "ACTIVE", "{shaped}");
    assert_eq!(
        license["runtimeNodes"].as_array().map(Vec::len),
        Some(1),
        "{shaped}"
    );
    assert_eq!(
        license["runtimeNodes"][0]["fingerprint"], "node-live",
        "{shaped}"
    );
    if postgres {
        // The page of developers with everything under it, in one statement.
        assert_eq!(shaped_spent, 1, "{shaped_spent} statements shaped");
        assert!(
            engine_spent >= 4,
            "{engine_spent} statements through the engine"
        );
    }

    // The licenses listing reads its nodes' lists with its page too.
    let licenses_listed = |engine: bool| {
        format!(
            "{{ licenses(first: 10) {{ edges {{ node {{ id assignments {} runtimeNodes {} }} }} }} }}",
            selection(many("assignments"), engine),
            selection(many("runtimeNodes"), engine)
        )
    };
    let ((shaped, shaped_spent), (engine, engine_spent)) =
        both_ways(&app, licenses_listed, json!({}), &admin).await;
    let parsed = checked(&shaped);
    assert_eq!(shaped, engine, "the admin's licenses listing");
    let edges = parsed["data"]["licenses"]["edges"].as_array().map(Vec::len);
    assert_eq!(edges, Some(5), "{shaped}");
    if postgres {
        assert_eq!(shaped_spent, 1, "{shaped_spent} statements shaped");
        assert!(
            engine_spent >= 3,
            "{engine_spent} statements through the engine"
        );
    }

    let own = |engine: bool| format!("{{ me {{ id licenses {} }} }}", selection(&LICENSE, engine));
    let ((shaped, _), (engine, _)) = both_ways(&app, own, json!({}), &owner.token).await;
    let parsed = checked(&shaped);
    assert_eq!(shaped, engine, "the developer's own");
    let own_licenses = &parsed["data"]["me"]["licenses"];
    assert_eq!(own_licenses.as_array().map(Vec::len), Some(4), "{shaped}");
    let seats = own_licenses[3]["assignments"].as_array().map(Vec::len);
    assert_eq!(seats, Some(2), "{shaped}");

    let seen = |engine: bool| {
        format!(
            "query($id: UUID!) {{ license(id: $id) {{ id assignments {} runtimeNodes {} }} }}",
            selection(many("assignments"), engine),
            selection(many("runtimeNodes"), engine)
        )
    };
    let vars = json!({ "id": owner.license_id });
    // Each list here is one statement either way (one license): the answers must agree.
    let ((shaped, _), (engine, _)) = both_ways(&app, seen, vars, &member.token).await;
    let parsed = checked(&shaped);
    assert_eq!(
        shaped, engine,
        "the member's view of a license it holds a seat on"
    );
    let seats = &parsed["data"]["license"]["assignments"];
    assert_eq!(seats.as_array().map(Vec::len), Some(1), "{shaped}");
    assert_eq!(
        parsed["data"]["license"]["runtimeNodes"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// A selection the shaped path does not cover (a field it does not describe) is answered by
/// the engine, whole and right.
#[tokio::test]
async fn a_field_not_described_leaves_the_relation_to_the_engine() {
    let app = spawn_app().await;
    let owner = app.developer("undescribed@example.com", "pro").await;
    let query =
        "{ me { licenses { id utilizationPercent developer { email } assignments { id } } } }";
    let body = app.graphql(query, json!({}), Some(&owner.token)).await;
    assert!(body["errors"].is_null(), "{body}");
    let license = &body["data"]["me"]["licenses"][0];
    assert_eq!(license["id"], owner.license_id.to_string(), "{body}");
    assert!(license["utilizationPercent"].is_number(), "{body}");
    assert_eq!(
        license["developer"]["email"], "undescribed@example.com",
        "{body}"
    );
}

/// A shaped list goes into an HTTP answer as the JSON text it was written as; everywhere else
/// it is a value: over a WebSocket, and in the answer an idempotent mutation keeps for its
/// retries, it reads the same.
#[tokio::test]
async fn shaped_lists_read_the_same_over_a_socket_and_in_a_kept_answer() {
    let app = spawn_app().await;
    let owner = app.developer("socket@example.com", "pro").await;
    app.team_member(&owner, "held@example.com").await;
    let own = format!("{{ me {{ id licenses {} }} }}", selection(&LICENSE, false));
    let over_http = checked(&raw_answer(&app, &own, json!({}), &owner.token).await);
    assert!(
        over_http["data"]["me"]["licenses"][0]["plan"]["code"].is_string(),
        "{over_http}"
    );
    let mut socket = Subscription::open(&app.ws_url(), Some(&owner.token), &own).await;
    let next = socket
        .next_message(Duration::from_secs(10))
        .await
        .expect("an answer over the socket");
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["data"], over_http["data"], "{next}");

    let assign = "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"held@example.com\") \
                  { id license { id assignments { id status user { email } } } } }";
    let vars = json!({ "l": owner.license_id });
    let key = Some("shaped-seat-1");
    let first = keyed(&app, key, Some(&owner.token), assign, vars.clone()).await;
    let again = keyed(&app, key, Some(&owner.token), assign, vars).await;
    assert!(
        !first.replayed && again.replayed,
        "{} / {}",
        first.body,
        again.body
    );
    assert_eq!(first.body, again.body, "the retry's answer");
    let first = first.body;
    let seats = &first["data"]["assignSeat"]["license"]["assignments"];
    assert_eq!(seats.as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(seats[0]["status"], "ACTIVE", "{first}");
    assert_eq!(seats[0]["user"]["email"], "held@example.com", "{first}");
}
