//! One rule decides who sees what, whatever path reaches an object: a developer never sees
//! another's data, a seat never links someone else's account, a license key sees its runtime.

use crate::helpers::{error_code, spawn_app};
use serde_json::{Value, json};

const ASSIGN: &str = "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) {
    status user { email licenses { id keyPrefix } instances { subdomain } } } }";

/// Every string in an answer, to look for another tenant's identifiers in it.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The parts of a seat's answer that could tell one address from another.
fn shape(answer: &Value) -> Value {
    let seat = &answer["data"]["assignSeat"];
    json!({ "status": seat["status"], "user": seat["user"], "errors": answer["errors"] })
}

#[tokio::test]
async fn a_seat_never_links_an_account_outside_the_licenses_team() {
    let app = spawn_app().await;
    let alice = app.developer("alice@example.com", "pro").await;
    let bob = app.developer("bob@example.com", "pro").await;
    let taken = app
        .graphql(
            ASSIGN,
            json!({ "l": alice.license_id, "e": "bob@example.com" }),
            Some(&alice.token),
        )
        .await;
    let fresh = app
        .graphql(
            ASSIGN,
            json!({ "l": alice.license_id, "e": "nobody-yet@example.com" }),
            Some(&alice.token),
        )
        .await;
    // Bob's address gets a seat waiting on an invitation, answered exactly like an address
    // with no account: nothing is linked, nothing tells them apart.
    assert_eq!(shape(&taken), shape(&fresh), "{taken} {fresh}");
    assert_eq!(taken["data"]["assignSeat"]["status"], "PENDING", "{taken}");
    let mut seen = Vec::new();
    strings(&taken, &mut seen);
    assert!(
        !seen.iter().any(|s| s.contains(&bob.license_id.to_string())),
        "{taken}"
    );
    // Alice's own member holds her seat; Bob naming its address links nothing of hers.
    let crew = app.team_member(&alice, "crew@example.com").await;
    let member = app
        .graphql(
            ASSIGN,
            json!({ "l": alice.license_id, "e": "crew@example.com" }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(
        member["data"]["assignSeat"]["user"]["email"], "crew@example.com",
        "{member}"
    );
    let poached = app
        .graphql(
            ASSIGN,
            json!({ "l": bob.license_id, "e": "crew@example.com" }),
            Some(&bob.token),
        )
        .await;
    assert!(poached["data"]["assignSeat"]["user"].is_null(), "{poached}");
    // What each license's seats show of their holders is its own team only.
    let holders = |token: String, license| {
        let app = &app;
        async move {
            let seats = app
                .graphql(
                    "query($id: UUID!) { license(id: $id) { assignments { user { email } } } }",
                    json!({ "id": license }),
                    Some(&token),
                )
                .await;
            seats["data"]["license"]["assignments"]
                .as_array()
                .unwrap_or_else(|| panic!("assignments: {seats}"))
                .iter()
                .filter_map(|a| a["user"]["email"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        holders(alice.token.clone(), alice.license_id).await,
        ["crew@example.com"]
    );
    assert!(holders(bob.token.clone(), bob.license_id).await.is_empty());
    // The member sees its own account and the license it holds a seat on, nothing of Bob's.
    let own = app
        .graphql(
            "{ me { email } licenses { edges { node { id } } } }",
            json!({}),
            Some(&crew.token),
        )
        .await;
    assert_eq!(own["data"]["me"]["email"], "crew@example.com", "{own}");
    assert_eq!(
        own["data"]["licenses"]["edges"][0]["node"]["id"],
        alice.license_id.to_string(),
        "{own}"
    );
    assert_eq!(
        own["data"]["licenses"]["edges"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn another_tenants_objects_are_not_found_by_any_path() {
    let app = spawn_app().await;
    let (alice, _) = app
        .developer_with_instance("alice@example.com", "pro")
        .await;
    let (bob, bobs_instance) = app.developer_with_instance("bob@example.com", "pro").await;
    let probes = [
        (
            "query($id: UUID!) { license(id: $id) { id } }",
            json!({ "id": bob.license_id }),
        ),
        (
            "query($id: UUID!) { instanceLogs(instanceId: $id) { edges { node { id } } } }",
            json!({ "id": bobs_instance }),
        ),
        (
            "query($id: UUID!) { instanceTokens(instanceId: $id) { nodes { id } } }",
            json!({ "id": bobs_instance }),
        ),
        (
            "query($id: UUID!) { usage(instanceId: $id, metric: \"api_requests\") { value } }",
            json!({ "id": bobs_instance }),
        ),
        (
            "query($id: UUID!) { entitlements(developerId: $id) { key } }",
            json!({ "id": bob.id }),
        ),
    ];
    for (query, variables) in probes {
        let body = app.graphql(query, variables, Some(&alice.token)).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{query}: {body}");
    }
    let trail = app
        .graphql(
            "query($id: UUID!) { auditEvents(filter: { entityId: $id }) { edges { node { id } } } }",
            json!({ "id": bob.license_id }),
            Some(&alice.token),
        )
        .await;
    assert_eq!(trail["data"]["auditEvents"]["edges"], json!([]), "{trail}");
    let lists = app
        .graphql(
            "{ licenses { edges { node { id } } } instances { nodes { id } } me { licenses { id } instances { id } } }",
            json!({}),
            Some(&alice.token),
        )
        .await;
    let mut seen = Vec::new();
    strings(&lists, &mut seen);
    for theirs in [bob.license_id.to_string(), bobs_instance.clone()] {
        assert!(!seen.contains(&theirs), "{theirs} in {lists}");
    }
    assert!(seen.contains(&alice.license_id.to_string()), "{lists}");
}

#[tokio::test]
async fn a_license_key_sees_its_runtime_and_not_its_license() {
    let app = spawn_app().await;
    let dev = app.developer("runtime@example.com", "pro").await;
    let node = app
        .graphql(
            "mutation($k: String!) { activateRuntimeNode(licenseKey: $k, fingerprint: \"fp\") { id license { id notes } } }",
            json!({ "k": dev.license_key }),
            None,
        )
        .await;
    assert!(node["errors"].is_null(), "{node}");
    assert!(node["data"]["activateRuntimeNode"]["id"].is_string());
    assert!(
        node["data"]["activateRuntimeNode"]["license"].is_null(),
        "{node}"
    );
    let status = app
        .graphql(
            "query($k: String!) { validateLicense(key: $k) { code license { id state } } }",
            json!({ "k": dev.license_key }),
            None,
        )
        .await;
    assert_eq!(
        status["data"]["validateLicense"]["license"]["id"],
        json!(dev.license_id)
    );
    // The same key as a bearer credential opens the license's runtime view only.
    let as_bearer = app
        .graphql(
            "{ licenses { edges { node { id } } } }",
            json!({}),
            Some(&dev.license_key),
        )
        .await;
    assert!(
        matches!(
            error_code(&as_bearer),
            Some("UNAUTHENTICATED" | "FORBIDDEN")
        ),
        "{as_bearer}"
    );
}
