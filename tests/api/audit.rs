use crate::helpers::{PASSWORD, SIGNUP, error_code, spawn_app};
use serde_json::{Value, json};

const AUDIT: &str = r#"query($filter: AuditFilterInput, $first: Int) {
    auditEvents(first: $first, filter: $filter) {
        totalCount
        edges { node { type actorType actorId entityType entityId metadata ip userAgent createdAt } }
    }
}"#;

fn types(body: &Value) -> Vec<String> {
    body["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {body}"))
        .iter()
        .filter_map(|e| e["node"]["type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_audit_trail_records_who_what_and_where_and_shows_developers_their_own() {
    let app = spawn_app().await;
    // Sign up with a user agent, to see it recorded.
    let signup: Value = app
        .graphql_with_header(
            ("user-agent", "audit-probe/1.0"),
            SIGNUP,
            json!({ "input": {
                "email": "trail@example.com", "name": "T", "password": PASSWORD, "planCode": "pro" } }),
        )
        .await;
    let mine = &signup["data"]["signup"];
    let token = mine["accessToken"].as_str().expect("token");
    let license = mine["license"]["id"].as_str().expect("id");
    let other = app.developer("elsewhere@example.com", "solo").await;
    let admin = app.admin_token().await;
    let developer_id = mine["developer"]["id"].as_str().expect("id");
    app.mark_verified(developer_id.parse().expect("uuid")).await;

    app.graphql(
        "mutation($id: UUID!) { suspendLicense(id: $id) { state } }",
        json!({ "id": license }),
        Some(&admin),
    )
    .await;
    app.graphql(
        "mutation($id: UUID!) { reinstateLicense(id: $id) { state } }",
        json!({ "id": license }),
        Some(&admin),
    )
    .await;
    app.graphql(
        "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"crew@team.io\") { id } }",
        json!({ "l": license }),
        Some(token),
    )
    .await;

    let created = app
        .graphql(AUDIT, json!({ "filter": { "typePrefix": "developer.", "entityId": mine["developer"]["id"] } }), Some(&admin))
        .await;
    let node = &created["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(node["type"], "developer.created", "{created}");
    assert_eq!(node["userAgent"], "audit-probe/1.0");
    assert_eq!(node["ip"], "127.0.0.1");

    let license_events = app
        .graphql(
            AUDIT,
            json!({ "filter": { "typePrefix": "license.", "entityId": license } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        types(&license_events),
        [
            "license.state_changed",
            "license.state_changed",
            "license.created"
        ],
        "newest first"
    );
    let change = &license_events["data"]["auditEvents"]["edges"][0]["node"];
    assert_eq!(change["metadata"]["from"], "suspended");
    assert_eq!(change["metadata"]["to"], "active");
    assert_eq!(change["actorType"], "user");

    let found = app
        .graphql(
            AUDIT,
            json!({ "filter": { "search": "CREW@team" } }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        types(&found),
        ["seat.assigned", "member.invited"],
        "the seat, and the invitation it waits on: {found}"
    );

    // A developer reads what it owns, and nothing of anyone else's.
    let own = app
        .graphql(AUDIT, json!({ "first": 100 }), Some(token))
        .await;
    let own_types = types(&own);
    assert!(
        own_types.contains(&"seat.assigned".to_owned()),
        "{own_types:?}"
    );
    assert!(own_types.contains(&"license.state_changed".to_owned()));
    let theirs = app
        .graphql(
            AUDIT,
            json!({ "filter": { "entityId": other.license_id } }),
            Some(token),
        )
        .await;
    assert_eq!(theirs["data"]["auditEvents"]["totalCount"], 0);

    let nested = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { auditEvents { type } } }",
            json!({ "id": license }),
            Some(token),
        )
        .await;
    assert_eq!(
        nested["data"]["license"]["auditEvents"][0]["type"], "seat.assigned",
        "{nested}"
    );

    let anonymous = app.graphql(AUDIT, json!({}), None).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}
