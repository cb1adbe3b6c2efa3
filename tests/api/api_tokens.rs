//! Partners' API tokens: made by a developer or an admin, shown once, stored as a digest,
//! limited to their scopes on every field, acting as their owner, refused at once when revoked
//! or expired, on every gateway, and held to a budget of requests a minute shared by the
//! gateways (as callers without a credential are, per address).

use crate::helpers::{
    TestApp, error_code, initialised_ws, next_json, receive, send_json, spawn_app, spawn_app_with,
    spawn_gateway_process, subscription_error,
};
use entity::{api_tokens, audit_events, prelude::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

const CREATE: &str = "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { token apiToken { id name prefix scopes expiresAt lastUsedAt revokedAt } } }";
const LICENSES: &str = "{ licenses(first: 10) { edges { node { id keyPrefix } } } }";

/// A token of `owner` (a person's access token) with `scopes`: its plaintext and its id.
async fn token(app: &TestApp, owner: &str, scopes: &[&str]) -> (String, Uuid) {
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "partner sync", "scopes": scopes } }),
            Some(owner),
        )
        .await;
    let created = &out["data"]["createApiToken"];
    let plaintext = created["token"].as_str().unwrap_or_else(|| panic!("{out}"));
    let id = created["apiToken"]["id"].as_str().expect("id");
    (plaintext.to_owned(), id.parse().expect("uuid"))
}

fn required_scope(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["requiredScope"].as_str()
}

#[tokio::test]
async fn a_token_is_shown_once_and_stored_as_a_digest() {
    let app = spawn_app().await;
    let dev = app.developer("maker@example.com", "pro").await;
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "crm", "scopes": ["seats:write", "licenses:read"] } }),
            Some(&dev.token),
        )
        .await;
    let created = &out["data"]["createApiToken"];
    let plaintext = created["token"].as_str().unwrap_or_else(|| panic!("{out}"));
    assert!(plaintext.starts_with("pk_live_"), "{plaintext}");
    assert_eq!(plaintext.len(), "pk_live_".len() + 40, "200 random bits");
    let listed = &created["apiToken"];
    assert_eq!(listed["scopes"], json!(["licenses:read", "seats:write"]));
    assert!(plaintext.starts_with(listed["prefix"].as_str().expect("prefix")));

    let stored = ApiTokens::find()
        .all(&app.state.db)
        .await
        .expect("rows")
        .pop()
        .expect("one token");
    assert_ne!(stored.token_hash, plaintext);
    assert!(!stored.token_hash.contains(&plaintext["pk_live_".len()..]));
    assert_eq!(stored.owner_id, dev.id);

    // Listed without the token itself; another developer sees none of it.
    let list = app
        .graphql(
            "{ apiTokens { totalCount edges { node { name prefix scopes } } } }",
            json!({}),
            Some(&dev.token),
        )
        .await;
    assert_eq!(list["data"]["apiTokens"]["totalCount"], 1, "{list}");
    assert!(!list.to_string().contains(plaintext), "{list}");
    let other = app.developer("stranger@example.com", "pro").await;
    let theirs = app
        .graphql(
            "{ apiTokens { totalCount } }",
            json!({}),
            Some(&other.token),
        )
        .await;
    assert_eq!(theirs["data"]["apiTokens"]["totalCount"], 0, "{theirs}");

    // Unknown scopes and admin-only scopes are refused before anything is made.
    for scopes in [
        json!(["licenses:admin"]),
        json!(["platform:read"]),
        json!([]),
    ] {
        let refused = app
            .graphql(
                CREATE,
                json!({ "input": { "name": "x", "scopes": scopes } }),
                Some(&dev.token),
            )
            .await;
        assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    }
}

#[tokio::test]
async fn a_licenses_read_token_reads_licenses_and_nothing_else() {
    let app = spawn_app().await;
    let dev = app.developer("reader@example.com", "pro").await;
    let other = app.developer("elsewhere@example.com", "pro").await;
    let (reader, _) = token(&app, &dev.token, &["licenses:read"]).await;

    let own = app.graphql(LICENSES, json!({}), Some(&reader)).await;
    let edges = own["data"]["licenses"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "{own}");
    assert_eq!(edges[0]["node"]["id"], dev.license_id.to_string());

    // Its owner's rights, no more: another developer's license does not exist for it.
    let theirs = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { id } }",
            json!({ "id": other.license_id }),
            Some(&reader),
        )
        .await;
    assert_eq!(error_code(&theirs), Some("NOT_FOUND"), "{theirs}");

    // Each field outside its scope is refused, at the root, in a relation, in a fragment, in a
    // mutation, with the scope it lacks named.
    let refusals = [
        (
            "{ licenses(first: 1) { edges { node { assignments { id } } } } }",
            Some("seats:read"),
        ),
        (
            "{ licenses(first: 1) { edges { node { ...nodes } } } } fragment nodes on License { runtimeNodes { id } }",
            Some("nodes:read"),
        ),
        ("{ auditEvents { totalCount } }", Some("audit:read")),
        ("{ me { email } }", Some("members:read")),
        (
            "{ licenses(first: 1) { edges { node { developer { email } } } } }",
            Some("members:read"),
        ),
        ("{ invoices { totalCount } }", Some("billing:read")),
        ("{ mailOutbox { totalCount } }", Some("platform:read")),
        (
            "mutation($id: UUID!) { revokeLicense(id: $id) { id } }",
            Some("licenses:write"),
        ),
        (
            "mutation { createApiToken(input: { name: \"more\", scopes: [\"licenses:read\"] }) { token } }",
            None,
        ),
        ("mutation { logoutEverywhere }", None),
    ];
    for (query, scope) in refusals {
        let out = app
            .graphql(query, json!({ "id": dev.license_id }), Some(&reader))
            .await;
        assert_eq!(error_code(&out), Some("FORBIDDEN"), "{query}: {out}");
        assert_eq!(required_scope(&out), scope, "{query}: {out}");
        assert!(out["data"].is_null(), "nothing ran: {out}");
    }
    // Refused before it ran: the license is not revoked.
    let still = app.graphql(LICENSES, json!({}), Some(&dev.token)).await;
    assert_eq!(
        still["data"]["licenses"]["edges"].as_array().map(Vec::len),
        Some(1)
    );
    let state = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { state } }",
            json!({ "id": dev.license_id }),
            Some(&dev.token),
        )
        .await;
    let state = state["data"]["license"]["state"].as_str().expect("state");
    assert_ne!(state, "REVOKED");
    // The plan catalogue and the schema are anyone's.
    let public = app
        .graphql("{ plans { code } __typename }", json!({}), Some(&reader))
        .await;
    assert!(public["errors"].is_null(), "{public}");
}

#[tokio::test]
async fn a_write_token_changes_what_its_owner_may_and_the_audit_trail_names_it() {
    let app = spawn_app().await;
    let dev = app.developer("writer@example.com", "pro").await;
    let (writer, token_id) = token(&app, &dev.token, &["licenses:write"]).await;
    let out = app
        .graphql(
            "mutation($id: UUID!) { updateLicense(id: $id, input: { notes: \"synced\" }) { id notes } }",
            json!({ "id": dev.license_id }),
            Some(&writer),
        )
        .await;
    assert_eq!(out["data"]["updateLicense"]["notes"], "synced", "{out}");

    let audit = AuditEvents::find()
        .filter(audit_events::Column::EntityId.eq(dev.license_id))
        .order_by_desc(audit_events::Column::CreatedAt)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("an audit event");
    assert_eq!(audit.actor_type, "partner");
    assert_eq!(audit.actor_id, Some(token_id));

    // Last use is recorded (to the minute).
    let row = ApiTokens::find_by_id(token_id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("row");
    assert!(row.last_used_at.is_some());
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused_on_the_next_request() {
    let app = spawn_app().await;
    let dev = app.developer("ender@example.com", "pro").await;
    let (revoked, revoked_id) = token(&app, &dev.token, &["licenses:read"]).await;
    let (expiring, expiring_id) = token(&app, &dev.token, &["licenses:read"]).await;
    for bearer in [&revoked, &expiring] {
        let out = app.graphql(LICENSES, json!({}), Some(bearer)).await;
        assert!(out["errors"].is_null(), "{out}");
    }

    let out = app
        .graphql(
            "mutation($id: UUID!) { revokeApiToken(id: $id) { revokedAt } }",
            json!({ "id": revoked_id }),
            Some(&dev.token),
        )
        .await;
    assert!(
        out["data"]["revokeApiToken"]["revokedAt"].is_string(),
        "{out}"
    );
    ApiTokens::update_many()
        .col_expr(
            api_tokens::Column::ExpiresAt,
            Expr::value(chrono::Utc::now().fixed_offset() - chrono::Duration::seconds(1)),
        )
        .filter(api_tokens::Column::Id.eq(expiring_id))
        .exec(&app.state.db)
        .await
        .expect("expire");

    for bearer in [&revoked, &expiring] {
        let out = app.graphql(LICENSES, json!({}), Some(bearer)).await;
        assert_eq!(error_code(&out), Some("UNAUTHENTICATED"), "{out}");
    }
    // Another developer cannot revoke it (to it, it does not exist).
    let other = app.developer("meddler@example.com", "pro").await;
    let out = app
        .graphql(
            "mutation($id: UUID!) { revokeApiToken(id: $id) { id } }",
            json!({ "id": expiring_id }),
            Some(&other.token),
        )
        .await;
    assert_eq!(error_code(&out), Some("NOT_FOUND"), "{out}");
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn a_token_revoked_on_one_gateway_is_refused_by_another_at_once() {
    let app = spawn_app().await;
    let dev = app.developer("roamer@example.com", "pro").await;
    let (bearer, id) = token(&app, &dev.token, &["licenses:read"]).await;
    let (_child, there) = spawn_gateway_process(&app.database_url, &[]).await;
    let before = app
        .graphql_at(&there, LICENSES, json!({}), Some(&bearer))
        .await;
    assert!(before["errors"].is_null(), "{before}");

    let out = app
        .graphql(
            "mutation($id: UUID!) { revokeApiToken(id: $id) { id } }",
            json!({ "id": id }),
            Some(&dev.token),
        )
        .await;
    assert!(out["errors"].is_null(), "{out}");
    let after = app
        .graphql_at(&there, LICENSES, json!({}), Some(&bearer))
        .await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"), "{after}");
}

#[tokio::test]
async fn over_websocket_a_token_is_held_to_its_scopes_and_its_socket_closes_when_revoked() {
    let app = spawn_app().await;
    let dev = app.developer("socket@example.com", "pro").await;
    let (reader, id) = token(&app, &dev.token, &["licenses:read"]).await;
    let mut socket = initialised_ws(&app.ws_url(), Some(&reader)).await;

    let outside = "subscription { licenseEvents { license { assignments { id } } } }";
    send_json(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": outside } }),
    )
    .await;
    let refused = next_json(&mut socket).await.expect("an answer");
    let extensions = subscription_error(&refused);
    assert_eq!(extensions["code"], "FORBIDDEN", "{refused}");
    assert_eq!(extensions["requiredScope"], "seats:read", "{refused}");

    let inside = "subscription { licenseEvents { license { id } } }";
    send_json(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": inside } }),
    )
    .await;
    let out = app
        .graphql(
            "mutation($id: UUID!) { revokeApiToken(id: $id) { id } }",
            json!({ "id": id }),
            Some(&dev.token),
        )
        .await;
    assert!(out["errors"].is_null(), "{out}");
    // The socket closes with 4403 (a timeout or any other close fails).
    let closed = loop {
        match receive(&mut socket).await {
            // The refused operation's `complete`, or an event of the open one.
            Ok(_) => continue,
            other => break other,
        }
    };
    assert_eq!(
        closed,
        Err(Some(4403)),
        "the socket outlived its revoked token"
    );
}

/// Waits out the last seconds of a minute, so that a test's requests fall in one budget window.
async fn early_in_a_minute() {
    let second = chrono::Utc::now().timestamp().rem_euclid(60);
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

/// One request of `token`, answered with the status, the rate-limit headers and the body.
async fn budgeted(address: &str, query: &str, token: &str) -> (u16, [Option<u64>; 4], Value) {
    budgeted_as(address, query, json!({}), Some(token)).await
}

/// One request, with a credential or none, answered as `budgeted` answers.
async fn budgeted_as(
    address: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (u16, [Option<u64>; 4], Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.expect("an answer");
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    let headers = [
        header("ratelimit-limit"),
        header("ratelimit-remaining"),
        header("ratelimit-reset"),
        header("retry-after"),
    ];
    let status = answer.status().as_u16();
    (status, headers, answer.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_tokens_budget_is_told_in_headers_and_refused_past_it() {
    let app = spawn_app_with(&[
        ("API_TOKEN_READS_PER_MINUTE", "3"),
        ("API_TOKEN_WRITES_PER_MINUTE", "1"),
    ])
    .await;
    let dev = app.developer("budget@example.com", "pro").await;
    let (bearer, _) = token(&app, &dev.token, &["licenses:write"]).await;
    let (other, _) = token(&app, &dev.token, &["licenses:read"]).await;
    early_in_a_minute().await;

    for left in [2, 1, 0] {
        let (status, [limit, remaining, reset, _], body) =
            budgeted(&app.address, LICENSES, &bearer).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!((limit, remaining), (Some(3), Some(left)));
        assert!(reset.is_some_and(|s| (1..=60).contains(&s)), "{reset:?}");
    }
    let (status, [_, remaining, _, retry_after], body) =
        budgeted(&app.address, LICENSES, &bearer).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    let told = body["errors"][0]["extensions"]["retryAfter"].as_u64();
    assert!(told.is_some_and(|s| (1..=60).contains(&s)), "{body}");
    assert_eq!(retry_after, told);
    assert_eq!(remaining, Some(0));

    // Writes are a budget of their own; another token has its own; people have none.
    let update = format!(
        "mutation {{ updateLicense(id: \"{}\", input: {{ notes: \"n\" }}) {{ id }} }}",
        dev.license_id
    );
    let (status, [limit, ..], body) = budgeted(&app.address, &update, &bearer).await;
    assert_eq!((status, limit), (200, Some(1)), "{body}");
    let (status, _, body) = budgeted(&app.address, &update, &bearer).await;
    assert_eq!(status, 429, "{body}");
    let (status, _, body) = budgeted(&app.address, LICENSES, &other).await;
    assert_eq!(status, 200, "{body}");
    let (status, [limit, ..], body) = budgeted(&app.address, LICENSES, &dev.token).await;
    assert_eq!((status, limit), (200, None), "{body}");
}

#[tokio::test]
async fn callers_without_a_credential_have_a_budget_per_address_that_license_checks_do_not_spend() {
    let app = spawn_app_with(&[
        ("ANONYMOUS_READS_PER_MINUTE", "3"),
        ("ANONYMOUS_WRITES_PER_MINUTE", "2"),
    ])
    .await;
    let dev = app.developer("address@example.com", "pro").await;
    early_in_a_minute().await;
    let plans = "{ plans { code } }";

    for left in [2, 1, 0] {
        let (status, [limit, remaining, _, _], body) =
            budgeted_as(&app.address, plans, json!({}), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((limit, remaining), (Some(3), Some(left)), "{body}");
    }
    let (status, [_, _, _, retry_after], body) =
        budgeted_as(&app.address, plans, json!({}), None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
    assert!(retry_after.is_some_and(|s| (1..=60).contains(&s)));

    // Runtime nodes behind the same address keep checking their keys.
    let check = "query($key: String!) { validateLicense(key: $key) { valid } }";
    for _ in 0..5 {
        let (status, [limit, ..], body) =
            budgeted_as(&app.address, check, json!({ "key": dev.license_key }), None).await;
        assert_eq!((status, limit), (200, None), "{body}");
        assert!(body["errors"].is_null(), "{body}");
    }
    // Writes are a budget of their own, and a signed-in caller has no address budget.
    let login = "mutation { login(email: \"nobody@example.com\", password: \"not-the-password\") { accessToken } }";
    // (Signing the developer up may have spent one of them in this window already.)
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, [limit, ..], body) = budgeted_as(&app.address, login, json!({}), None).await;
        assert_eq!(limit, Some(2), "{body}");
        statuses.push(status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let (status, [limit, ..], body) =
        budgeted_as(&app.address, plans, json!({}), Some(&dev.token)).await;
    assert_eq!((status, limit), (200, None), "{body}");
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "PostgreSQL only: run with TEST_DATABASE_URL"
)]
async fn two_gateways_spend_one_budget() {
    let settings = [("API_TOKEN_READS_PER_MINUTE", "3")];
    let app = spawn_app_with(&settings).await;
    let dev = app.developer("shared@example.com", "pro").await;
    let (bearer, _) = token(&app, &dev.token, &["licenses:read"]).await;
    let (_child, there) = spawn_gateway_process(&app.database_url, &settings).await;
    early_in_a_minute().await;

    for _ in 0..2 {
        let (status, _, body) = budgeted(&app.address, LICENSES, &bearer).await;
        assert_eq!(status, 200, "{body}");
    }
    // The other gateway hears of them (a signal each) and counts them.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (status, [_, remaining, ..], body) = budgeted(&there, LICENSES, &bearer).await;
    assert_eq!((status, remaining), (200, Some(0)), "{body}");
    let (status, _, body) = budgeted(&there, LICENSES, &bearer).await;
    assert_eq!(status, 429, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (status, _, body) = budgeted(&app.address, LICENSES, &bearer).await;
    assert_eq!(status, 429, "{body}");
}

#[tokio::test]
async fn a_socket_opened_with_a_token_closes_when_the_token_expires() {
    let app = spawn_app().await;
    let dev = app.developer("expiring@example.com", "pro").await;
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let out = app
        .graphql(
            CREATE,
            json!({ "input": { "name": "short", "scopes": ["licenses:read"], "expiresAt": expires_at } }),
            Some(&dev.token),
        )
        .await;
    let bearer = out["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let mut socket = initialised_ws(&app.ws_url(), Some(&bearer)).await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            match receive(&mut socket).await {
                Err(None) => continue, // quiet for 5 s: still open
                other => break other,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(Err(Some(4403))), "the socket outlived its token");
}
