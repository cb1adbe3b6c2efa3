//! The public door: nothing a client sends may crash its request, fail another caller's, or
//! run unbounded work. Each test is one way in, tried as a stranger would.

use crate::helpers::{
    TestApp, error_code, initialised_ws, next_json, send_json, spawn_app, spawn_app_with,
};
use data_encoding::BASE64URL_NOPAD;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::time::Duration;

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// A connection answered, with a body in GraphQL's shape: the server neither dropped it nor
/// answered from a panic.
fn answered(body: &Value) {
    assert!(
        body.get("data").is_some() || body.get("errors").is_some(),
        "not a GraphQL answer: {body}"
    );
    assert_ne!(error_code(body), Some("INTERNAL"), "{body}");
}

#[tokio::test]
async fn a_cursor_past_any_position_is_refused_as_input() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let beyond = BASE64URL_NOPAD.encode(format!("at:{}", u64::MAX).as_bytes());
    let body = app
        .graphql(
            "query($a: String) { licenses(after: $a) { edges { node { id } } } }",
            json!({ "a": beyond }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    // The server is still there for the next request.
    answered(&app.graphql("{ plans { code } }", json!({}), None).await);
}

#[tokio::test]
async fn dates_at_the_calendars_ends_are_answered_not_crashed_on() {
    let app = spawn_app().await;
    let dev = app.developer("calendar@example.com", "solo").await;
    let usage = "query($d: UUID!, $from: DateTime, $to: DateTime, $g: UsageGranularity!) {
        usage(developerId: $d, metric: \"api_requests\", from: $from, to: $to, granularity: $g) { value } }";
    let ends = [
        (None, Some("-262143-01-01T00:00:00Z")),
        (None, Some("+262142-12-31T00:00:00Z")),
        (
            Some("-262143-01-01T00:00:00Z"),
            Some("+262142-12-31T00:00:00Z"),
        ),
    ];
    for (from, to) in ends {
        for granularity in ["DAY", "MONTH"] {
            let body = app
                .graphql(
                    usage,
                    json!({ "d": dev.id, "from": from, "to": to, "g": granularity }),
                    Some(&dev.token),
                )
                .await;
            answered(&body);
        }
    }
    // Filters at the ends of the calendar reach the database, and are answered.
    let filters = [
        "query($t: DateTime) { licenses(filter: { createdAfter: $t }) { edges { node { id } } } }",
        "query($t: DateTime) { auditEvents(filter: { from: $t }) { edges { node { id } } } }",
        "query($t: DateTime) { developers(filter: { createdBefore: $t }) { edges { node { id } } } }",
    ];
    let admin = app.admin_token().await;
    for query in filters {
        for end in ["-262143-01-01T00:00:00Z", "+262142-12-31T00:00:00Z"] {
            let body = app.graphql(query, json!({ "t": end }), Some(&admin)).await;
            answered(&body);
        }
    }
    // A license that expires at the end of time cannot be renewed past it.
    let far = app
        .graphql(
            "mutation($id: UUID!) { updateLicense(id: $id, input: { expiresAt: \"+262142-12-31T00:00:00Z\" }) { expiresAt daysUntilExpiry expiring } }",
            json!({ "id": dev.license_id }),
            Some(&admin),
        )
        .await;
    answered(&far);
    let renewed = app
        .graphql(
            "mutation($id: UUID!) { renewLicense(id: $id) { expiresAt } }",
            json!({ "id": dev.license_id }),
            Some(&admin),
        )
        .await;
    answered(&renewed);
}

#[tokio::test]
async fn a_poisoned_fingerprint_fails_alone() {
    let app = spawn_app().await;
    let dev = app.developer("batched@example.com", "solo").await;
    let query =
        "query($k: String!, $f: String) { validateLicense(key: $k, fingerprint: $f) { code } }";
    // Valid validations and poisoned ones, all at once: on PostgreSQL they share statements.
    let answers = join_all((0..60).map(|n| {
        let fingerprint = if n % 5 == 0 { "bad\u{0}print" } else { "fp" };
        let app = &app;
        let key = dev.license_key.clone();
        async move {
            let body = app
                .graphql(query, json!({ "k": key, "f": fingerprint }), None)
                .await;
            (n % 5 == 0, body)
        }
    }))
    .await;
    for (poisoned, body) in answers {
        if poisoned {
            assert_eq!(error_code(&body), Some("VALIDATION"), "{body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], "fingerprint");
        } else {
            assert_eq!(
                body["data"]["validateLicense"]["code"], "NO_MACHINE",
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn text_and_lists_are_bounded_before_use() {
    let app = spawn_app_with(&[
        ("GRAPHQL_MAX_STRING_CHARS", "100"),
        ("GRAPHQL_MAX_LIST_LENGTH", "3"),
    ])
    .await;
    let long = app
        .graphql(LOGIN, json!({ "e": "a".repeat(101), "p": "x" }), None)
        .await;
    assert_eq!(error_code(&long), Some("VALIDATION"), "{long}");
    assert_eq!(long["errors"][0]["extensions"]["field"], "email");
    let nul = app
        .graphql("{ plan(code: \"so\\u0000lo\") { code } }", json!({}), None)
        .await;
    assert_eq!(error_code(&nul), Some("VALIDATION"), "{nul}");
    assert_eq!(nul["errors"][0]["extensions"]["field"], "code");
    let many = app
        .graphql(
            "mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }",
            json!({ "e": (0..4).map(|n| json!({ "transactionId": format!("t{n}"), "metric": "api_requests", "value": 1 })).collect::<Vec<_>>() }),
            None,
        )
        .await;
    assert_eq!(error_code(&many), Some("VALIDATION"), "{many}");
    assert_eq!(many["errors"][0]["extensions"]["field"], "events");
}

#[tokio::test]
async fn one_request_tries_one_password() {
    let app = spawn_app().await;
    let aliased = (0..3)
        .map(|n| {
            format!(
                "l{n}: login(email: \"a@example.com\", password: \"guess {n}\") {{ accessToken }}"
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let body = app
        .graphql(&format!("mutation {{ {aliased} }}"), json!({}), None)
        .await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    // Nor does any field come back more often than the limit allows.
    let repeated = (0..11)
        .map(|n| format!("p{n}: plans {{ code }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let body = app
        .graphql(&format!("{{ {repeated} }}"), json!({}), None)
        .await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");
    // A JSON array of operations is refused while batching is off.
    let batch: Vec<Value> = (0..2)
        .map(|n| json!({ "query": LOGIN, "variables": { "e": "a@example.com", "p": format!("guess {n}") } }))
        .collect();
    let response = app
        .post("/graphql")
        .json(&batch)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), Some("BAD_REQUEST"), "{body}");
}

#[tokio::test]
async fn batches_when_allowed_are_capped_and_counted_whole() {
    let app = spawn_app_with(&[("GRAPHQL_MAX_BATCH", "3"), ("GRAPHQL_MAX_TOKENS", "40")]).await;
    let small = json!({ "query": "{ plans { code } }" });
    let response = app
        .post("/graphql")
        .json(&vec![small.clone(); 3])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let answers: Vec<Value> = response.json().await.expect("json");
    assert_eq!(answers.len(), 3);
    let response = app
        .post("/graphql")
        .json(&vec![small.clone(); 4])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400, "past the batch cap");
    // Six tokens each: four documents would pass one at a time, not together.
    let app = spawn_app_with(&[("GRAPHQL_MAX_BATCH", "10"), ("GRAPHQL_MAX_TOKENS", "20")]).await;
    let response = app
        .post("/graphql")
        .json(&vec![small; 4])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400, "tokens count over the whole batch");
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), Some("QUERY_TOO_LARGE"), "{body}");
}

#[tokio::test]
async fn a_document_past_the_token_limit_is_refused_before_parsing() {
    let app = spawn_app_with(&[("GRAPHQL_MAX_TOKENS", "50")]).await;
    let big = format!(
        "{{ {} }}",
        (0..30)
            .map(|n| format!("a{n}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let body = app.graphql(&big, json!({}), None).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_LARGE"), "{body}");
}

#[tokio::test]
async fn account_doors_are_rate_limited_per_email_and_per_client() {
    let app = spawn_app_with(&[("AUTH_ATTEMPTS_PER_MINUTE", "3")]).await;
    app.developer("door@example.com", "solo").await;
    let mut codes = Vec::new();
    for n in 0..4 {
        let body = app
            .graphql(
                LOGIN,
                json!({ "e": "door@example.com", "p": format!("wrong {n}") }),
                None,
            )
            .await;
        codes.push(error_code(&body).map(str::to_owned));
        if n == 3 {
            let retry = &body["errors"][0]["extensions"]["retryAfter"];
            assert!(
                retry.as_u64().is_some_and(|s| (1..=60).contains(&s)),
                "{body}"
            );
        }
    }
    let expected = [
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
        "RATE_LIMITED",
    ];
    assert_eq!(codes, expected.map(|c| Some(c.to_owned())));
    // The right password does not get past the limit either: the door is shut for a while,
    // and the HTTP answer says for how long.
    let variables = json!({ "e": "door@example.com", "p": crate::helpers::PASSWORD });
    let response = app
        .post("/graphql")
        .json(&json!({ "query": LOGIN, "variables": variables }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 429);
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
    let right: Value = response.json().await.expect("json");
    assert_eq!(error_code(&right), Some("RATE_LIMITED"), "{right}");
    // Signup is a door of its own, counted for this client too.
    for n in 0..4 {
        let body = app
            .graphql(
                crate::helpers::SIGNUP,
                json!({ "input": { "email": format!("new{n}@example.com"), "name": "N", "password": crate::helpers::PASSWORD, "planCode": "solo" } }),
                None,
            )
            .await;
        let code = error_code(&body);
        if n < 2 {
            // The fixture's signup above was this client's first.
            assert_eq!(code, None, "{body}");
        } else {
            assert_eq!(code, Some("RATE_LIMITED"), "{body}");
        }
    }
}

/// The doors the mail flows open are counted like login: per client, and per address where
/// they name one. Each refuses its fourth try in a minute with the same answer a wrong token
/// gets the first three times, so a guesser learns nothing more by going on.
#[tokio::test]
async fn mail_flow_doors_are_rate_limited_too() {
    let app = spawn_app_with(&[("AUTH_ATTEMPTS_PER_MINUTE", "3")]).await;
    let doors: [(&str, Value, Option<&str>); 4] = [
        (
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": "someone@example.com" }),
            None,
        ),
        (
            "mutation($t: String!) { resetPassword(token: $t, password: \"a-new-password-1\") }",
            json!({ "t": "pr_notatoken000000000000000000000000000000" }),
            Some("VALIDATION"),
        ),
        (
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({ "t": "ev_notatoken000000000000000000000000000000" }),
            Some("VALIDATION"),
        ),
        (
            "mutation($t: String!) { acceptInvitation(token: $t, name: \"N\", password: \"a-new-password-1\") { accessToken } }",
            json!({ "t": "inv_notatoken00000000000000000000000000000" }),
            Some("VALIDATION"),
        ),
    ];
    for (query, variables, refused) in doors {
        let mut codes = Vec::new();
        for _ in 0..4 {
            let body = app.graphql(query, variables.clone(), None).await;
            codes.push(error_code(&body).map(str::to_owned));
        }
        let first = refused.map(str::to_owned);
        assert_eq!(
            codes,
            [
                first.clone(),
                first.clone(),
                first,
                Some("RATE_LIMITED".into())
            ],
            "{query}"
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_alone() {
    let app = spawn_app_with(&[
        ("VALIDATION_FAILURES_PER_MINUTE", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let query = "query($k: String!) { validateLicense(key: $k) { code } }";
    let from = |client: &'static str, n: usize| {
        let app = &app;
        async move {
            let guess = format!("PROXY-AAAA{n}-BBBBB-CCCCC-DDDDD-EEEEE-FFFFF-GGGGG");
            let forwarded = format!("203.0.113.250, {client}");
            let body = app
                .graphql_with_header(
                    ("x-forwarded-for", &forwarded),
                    query,
                    json!({ "k": guess }),
                )
                .await;
            body["data"]["validateLicense"]["code"].clone()
        }
    };
    for n in 0..2 {
        assert_eq!(from("198.51.100.1", n).await, "NOT_FOUND");
    }
    assert_eq!(from("198.51.100.1", 2).await, "RATE_LIMITED");
    assert_eq!(
        from("198.51.100.2", 3).await,
        "NOT_FOUND",
        "another client is not refused"
    );
}

#[tokio::test]
async fn a_socket_runs_a_bounded_number_of_operations_and_messages() {
    let app = spawn_app_with(&[
        ("WS_MAX_OPERATIONS", "2"),
        ("HTTP_BODY_LIMIT_BYTES", "4096"),
    ])
    .await;
    let admin = app.admin_token().await;
    let mut socket = initialised_ws(&app.ws_url(), Some(&admin)).await;
    for id in ["a", "b", "c"] {
        send_json(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { licenseEvents { type } }" } }),
        )
        .await;
    }
    let refused = tokio::time::timeout(Duration::from_secs(5), next_json(&mut socket))
        .await
        .ok()
        .flatten()
        .expect("an answer");
    assert_eq!(refused["id"], "c", "{refused}");
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // A message past the body limit closes the socket; the server carries on.
    let huge = json!({ "id": "d", "type": "subscribe", "payload": { "query": format!("{{ plans {{ code }} }} # {}", "x".repeat(8192)) } });
    send_json(&mut socket, huge).await;
    let after = tokio::time::timeout(Duration::from_secs(5), next_json(&mut socket))
        .await
        .expect("closed in time");
    assert!(after.is_none(), "still open: {after:?}");
    answered(&app.graphql("{ plans { code } }", json!({}), None).await);
}

#[tokio::test]
async fn relation_lists_answer_a_page_at_most() {
    let app = spawn_app_with(&[("GRAPHQL_MAX_PAGE_SIZE", "2")]).await;
    let admin = app.admin_token().await;
    let dev = app.developer("paged@example.com", "pro").await;
    for n in 0..3 {
        let body = app
            .graphql(
                "mutation($id: UUID!, $n: String) { updateLicense(id: $id, input: { notes: $n }) { id } }",
                json!({ "id": dev.license_id, "n": format!("note {n}") }),
                Some(&admin),
            )
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let body = app
        .graphql(
            "query($id: UUID!) { license(id: $id) { auditEvents { type metadata } } }",
            json!({ "id": dev.license_id }),
            Some(&admin),
        )
        .await;
    let events = body["data"]["license"]["auditEvents"]
        .as_array()
        .expect("list");
    assert_eq!(events.len(), 2, "{body}");
    // The newest two: the last two edits.
    assert_eq!(
        events[0]["metadata"]["after"]["seatsTotal"],
        events[1]["metadata"]["after"]["seatsTotal"]
    );
    assert_eq!(events[0]["type"], "license.updated");
    assert_eq!(events[1]["type"], "license.updated");
}

#[tokio::test]
async fn developers_see_where_their_own_actions_came_from_never_an_admins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("watched@example.com", "pro").await;
    let suspended = app
        .graphql(
            "mutation($id: UUID!) { suspendLicense(id: $id) { state } }",
            json!({ "id": dev.license_id }),
            Some(&admin),
        )
        .await;
    assert!(suspended["errors"].is_null(), "{suspended}");
    let read = |token: String| {
        let app: &TestApp = &app;
        async move {
            let body = app
                .graphql(
                    "query($id: UUID!) { auditEvents(filter: { entityId: $id }) { edges { node { type actorType actorId ip userAgent } } } }",
                    json!({ "id": dev.license_id }),
                    Some(&token),
                )
                .await;
            body["data"]["auditEvents"]["edges"]
                .as_array()
                .cloned()
                .expect("edges")
        }
    };
    let seen_by_developer = read(dev.token.clone()).await;
    let admins = seen_by_developer
        .iter()
        .find(|e| e["node"]["type"] == "license.state_changed")
        .expect("the admin's change");
    assert_eq!(admins["node"]["actorType"], "user");
    for field in ["actorId", "ip", "userAgent"] {
        assert!(admins["node"][field].is_null(), "{field} shown: {admins}");
    }
    let own = seen_by_developer
        .iter()
        .find(|e| e["node"]["type"] == "license.created")
        .expect("the signup's own license");
    assert_eq!(own["node"]["actorId"], json!(dev.id));
    assert!(own["node"]["ip"].is_string(), "{own}");
    let seen_by_admin = read(admin).await;
    let change = seen_by_admin
        .iter()
        .find(|e| e["node"]["type"] == "license.state_changed")
        .expect("the change");
    assert!(change["node"]["ip"].is_string() && change["node"]["actorId"].is_string());
}

#[tokio::test]
async fn the_standard_introspection_query_passes_the_depth_limit_and_nothing_else_does() {
    let app = spawn_app().await;
    // What a GraphQL client asks for to draw its documentation: type references unwrapped seven
    // levels down, fifteen deep in all.
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";
    let introspection = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ kind name fields(includeDeprecated: true) {{ name args {{ name type {{ {type_ref} }} }} type {{ {type_ref} }} }} inputFields {{ name type {{ {type_ref} }} }} }} }} }}"
    );
    let body = app.graphql(&introspection, json!({}), None).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(
        body["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    // The same depth through data is refused.
    let deep = "{ licenses { edges { node { developer { licenses { developer { licenses { developer { licenses { developer { licenses { developer { licenses { id } } } } } } } } } } } } } }";
    let body = app.graphql(deep, json!({}), None).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_DEEP"), "{body}");
}
