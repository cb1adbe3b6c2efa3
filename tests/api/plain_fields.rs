//! Objects answering their plain fields in place (`api/src/graphql/plain.rs`) answer as the
//! engine does: every plain field name is a field of its type, and one document answers the same
//! data whether its fields are asked for plainly or through fragments (both read in place) or in
//! a way only the engine answers (field by field), with keys in the order selected.

use crate::helpers::{export_sdl, spawn_app};
use api::domain::accounts::schema::UserObject;
use api::domain::audit::schema::AuditEventObject;
use api::domain::instance_logs::schema::InstanceLogObject;
use api::domain::licenses::schema::LicenseObject;
use api::domain::nodes::schema::RuntimeNodeObject;
use api::domain::plans::schema::PlanObject;
use api::domain::seats::schema::AssignmentObject;
use api::graphql::plain::PlainFields;
use api::graphql::scope_check::FieldTypes;
use serde_json::{Value, json};

/// Each type with plain fields, and their names.
fn plain_types() -> [(&'static str, &'static [&'static str]); 7] {
    [
        ("License", LicenseObject::NAMES),
        ("User", UserObject::NAMES),
        ("Assignment", AssignmentObject::NAMES),
        ("RuntimeNode", RuntimeNodeObject::NAMES),
        ("Plan", PlanObject::NAMES),
        ("AuditEvent", AuditEventObject::NAMES),
        // Answered in `instance_logs.rs`, whose listings read every field.
        ("InstanceLog", InstanceLogObject::NAMES),
    ]
}

#[test]
fn every_plain_field_is_a_field_of_its_type() {
    let schema = FieldTypes::from_sdl(&export_sdl());
    for (type_name, names) in plain_types() {
        let fields: Vec<&str> = schema.fields(type_name).collect();
        assert!(!names.is_empty(), "{type_name} lists no plain fields");
        for name in names {
            assert!(
                fields.contains(name),
                "{type_name}.{name} is listed as plain but is not a field of {type_name}"
            );
        }
    }
}

/// How a document asks for each object's fields.
#[derive(Clone, Copy, PartialEq)]
enum Asked {
    /// As a list of fields: read in place.
    Plainly,
    /// Through a named fragment and an inline one, repeating `id` and `__typename` as clients
    /// do: still read in place.
    InFragments,
    /// With one relation asked twice under one key, which only the engine merges: the whole
    /// object goes to the engine, field by field.
    ByTheEngine,
}

/// A relation of each type, asked for under the key `forced` with two fields: in one selection,
/// or (`ByTheEngine`) in two. A type without relations asks for a field that reads the request
/// (which the engine resolves), once or twice.
fn forced(type_name: &str, asked: Asked) -> String {
    if type_name == "AuditEvent" {
        return if asked == Asked::ByTheEngine {
            "forced: actorId forced: actorId".to_owned()
        } else {
            "forced: actorId".to_owned()
        };
    }
    let (relation, first, second) = match type_name {
        "License" => ("developer", "id", "email"),
        "User" => ("licenses", "id", "product"),
        "Plan" => ("prices", "id", "amountMinor"),
        _ => ("license", "id", "product"),
    };
    if asked == Asked::ByTheEngine {
        format!("forced: {relation} {{ {first} }} forced: {relation} {{ {second} }}")
    } else {
        format!("forced: {relation} {{ {first} {second} }}")
    }
}

/// The selection of a type's plain fields (an alias, `__typename`, and the relations placed in
/// the middle, so that the order of keys is tested too), asked for as `asked` says.
fn selection(type_name: &str, relations: &str, asked: Asked) -> String {
    let names = plain_types()
        .into_iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, names)| names)
        .unwrap_or_default();
    let (first, rest) = names.split_at(names.len() / 2);
    let inner = format!(
        "__typename alias: id {} {relations} {} {}",
        first.join(" "),
        rest.join(" "),
        forced(type_name, asked)
    );
    if asked == Asked::InFragments {
        format!("{{ id ... on {type_name} {{ {inner} }} ...{type_name}Keys }}")
    } else {
        format!("{{ {inner} }}")
    }
}

fn document(asked: Asked) -> String {
    let plan = selection("Plan", "", asked);
    let seat = selection("Assignment", "", asked);
    let node = selection("RuntimeNode", "", asked);
    let owner = selection("User", "", asked);
    let events = selection("AuditEvent", "", asked);
    let license = selection(
        "License",
        &format!(
            "plan {plan} assignments {seat} runtimeNodes {node} developer {owner} \
             auditEvents {events}"
        ),
        asked,
    );
    let developer = selection("User", &format!("licenses {license}"), asked);
    let mut document = format!(
        "query($id: UUID!) {{ license(id: $id) {license} \
         developers(first: 5) {{ edges {{ node {developer} }} }} plans {plan} }}"
    );
    if asked == Asked::InFragments {
        for type_name in [
            "License",
            "User",
            "Assignment",
            "RuntimeNode",
            "Plan",
            "AuditEvent",
        ] {
            document.push_str(&format!(
                " fragment {type_name}Keys on {type_name} {{ __typename id }}"
            ));
        }
    }
    document
}

pub(crate) async fn raw_answer(
    app: &crate::helpers::TestApp,
    query: &str,
    vars: Value,
    token: &str,
) -> String {
    app.post("/graphql")
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": vars }))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("answer")
}

#[tokio::test]
async fn plain_fields_answer_as_the_engine_does() {
    let app = spawn_app().await;
    let owner = app.developer("plain@example.com", "pro").await;
    app.developer("other@example.com", "solo").await;
    app.node(&owner.license_key, "plain-node").await;
    let seat = app
        .graphql(
            "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"plain@example.com\") { id } }",
            json!({ "l": owner.license_id }),
            Some(&owner.token),
        )
        .await;
    assert!(seat["data"]["assignSeat"]["id"].is_string(), "{seat}");
    let admin = app.admin_token().await;
    let vars = json!({ "id": owner.license_id });

    let plain = raw_answer(&app, &document(Asked::Plainly), vars.clone(), &admin).await;
    let fragments_text =
        raw_answer(&app, &document(Asked::InFragments), vars.clone(), &admin).await;
    let engine = raw_answer(&app, &document(Asked::ByTheEngine), vars, &admin).await;

    let parsed: Value = serde_json::from_str(&plain).expect("JSON");
    assert!(parsed.get("errors").is_none(), "{plain}");
    let license = &parsed["data"]["license"];
    assert_eq!(license["__typename"], "License", "{plain}");
    assert_eq!(license["product"], "core", "{plain}");
    assert_eq!(license["assignments"][0]["status"], "ACTIVE", "{plain}");
    assert_eq!(license["runtimeNodes"][0]["fingerprint"], "plain-node");
    assert_eq!(license["developer"]["email"], "plain@example.com");
    assert_eq!(
        license["auditEvents"][0]["__typename"], "AuditEvent",
        "{plain}"
    );
    assert_eq!(
        license["auditEvents"][0]["entityType"], "license",
        "{plain}"
    );
    assert!(
        parsed["data"]["developers"]["edges"]
            .as_array()
            .is_some_and(|edges| edges.len() == 2),
        "{plain}"
    );
    let engine: Value = serde_json::from_str(&engine).expect("JSON");
    assert_eq!(parsed, engine, "the plain answer differs from the engine's");
    let fragments: Value = serde_json::from_str(&fragments_text).expect("JSON");
    assert_eq!(
        fragments, engine,
        "the answer through fragments differs from the engine's"
    );
    // Keys in the order selected, also through fragments (the engine writes an object's keys as
    // its fields finish, relations last): read in place, the relations sit between the plain
    // fields.
    for (asked, answer) in [("plainly", &plain), ("in fragments", &fragments_text)] {
        let license = &answer[answer.find("\"license\":{").expect("license")..];
        let relation = license.find("\"plan\":{").expect("plan");
        let last_plain = license
            .find("\"utilizationPercent\":")
            .expect("utilizationPercent");
        assert!(
            relation < last_plain,
            "asked {asked}, keys out of selection order: {license}"
        );
    }
}

/// A response key asked for twice is merged by the engine; the answer is the same either way.
#[tokio::test]
async fn a_key_selected_twice_is_answered_once() {
    let app = spawn_app().await;
    let owner = app.developer("twice@example.com", "pro").await;
    let body = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { id seatsTotal plan { code } plan { name } id } }",
            json!({ "id": owner.license_id }),
            Some(&owner.token),
        )
        .await;
    let license = &body["data"]["license"];
    assert_eq!(license["id"], json!(owner.license_id), "{body}");
    assert!(license["plan"]["code"].is_string(), "{body}");
    assert!(license["plan"]["name"].is_string(), "{body}");
}

/// `@skip` and `@include` are applied before any field is read, on fields and fragments alike:
/// fields read in place are what is left.
#[tokio::test]
async fn skipped_and_included_fields_are_honoured() {
    let app = spawn_app().await;
    let owner = app.developer("skip@example.com", "pro").await;
    let body = app
        .graphql(
            "query($id: UUID!, $yes: Boolean!) { license(id: $id) { id product @include(if: $yes) \
             seatsTotal @skip(if: $yes) ... on License @skip(if: true) { state } \
             ... on License @include(if: $yes) { seatsUsed } } }",
            json!({ "id": owner.license_id, "yes": true }),
            Some(&owner.token),
        )
        .await;
    let license = &body["data"]["license"];
    assert_eq!(license["product"], "core", "{body}");
    assert!(license["seatsUsed"].is_number(), "{body}");
    assert!(license.get("seatsTotal").is_none(), "{body}");
    assert!(license.get("state").is_none(), "{body}");
}
