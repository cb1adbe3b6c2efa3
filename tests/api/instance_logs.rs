use crate::helpers::{Developer, INSTANCE_TOKEN, TestApp, error_code, spawn_app};
use entity::{audit_events, instance_events, instance_logs, instance_tokens, prelude::*};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

const CREATE_TOKEN: &str = r#"mutation($i: UUID!, $n: String!) {
    createInstanceToken(instanceId: $i, name: $n) {
        token
        instanceToken { id instanceId prefix name createdAt lastUsedAt revokedAt }
    }
}"#;

const REVOKE_TOKEN: &str =
    "mutation($id: UUID!) { revokeInstanceToken(id: $id) { id prefix revokedAt } }";

const LIST_TOKENS: &str = "query($i: UUID!) { instanceTokens(instanceId: $i) { nodes { id prefix name lastUsedAt revokedAt } } }";

const APPEND: &str = "mutation($e: [InstanceLogInput!]!) { appendInstanceLogs(entries: $e) }";

const LOGS: &str = r#"query($i: UUID!, $level: InstanceLogLevel, $min: InstanceLogLevel,
                            $from: DateTime, $to: DateTime, $first: Int, $after: String) {
    instanceLogs(instanceId: $i, level: $level, minLevel: $min, from: $from, to: $to,
                 first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor node { id instanceId level message context loggedAt createdAt } }
    }
}"#;

/// Creates a token and answers (raw token, token id).
async fn token_for(app: &TestApp, caller: &str, instance_id: &str) -> (String, String) {
    let body = app
        .graphql(
            CREATE_TOKEN,
            json!({ "i": instance_id, "n": "collector" }),
            Some(caller),
        )
        .await;
    let created = &body["data"]["createInstanceToken"];
    let token = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("token created: {body}"));
    let id = created["instanceToken"]["id"].as_str().expect("id");
    (token.to_owned(), id.to_owned())
}

/// Where most tests here start: a developer with an instance and a token for that instance.
/// Answers (developer, instance id, raw token, token id).
async fn logger(app: &TestApp) -> (Developer, String, String, String) {
    let (owner, instance) = app
        .developer_with_instance("logger@example.com", "solo")
        .await;
    let (token, token_id) = token_for(app, &owner.token, &instance).await;
    (owner, instance, token, token_id)
}

async fn logs(app: &TestApp, token: &str, instance_id: &str, args: Value) -> Value {
    let mut variables = json!({ "i": instance_id });
    if let (Some(vars), Some(extra)) = (variables.as_object_mut(), args.as_object()) {
        vars.extend(extra.clone());
    }
    app.graphql(LOGS, variables, Some(token)).await
}

fn messages(body: &Value) -> Vec<String> {
    body["data"]["instanceLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("a connection: {body}"))
        .iter()
        .map(|e| e["node"]["message"].as_str().expect("message").to_owned())
        .collect()
}

fn uuid(raw: &str) -> Uuid {
    Uuid::parse_str(raw).expect("uuid")
}

#[tokio::test]
async fn an_instance_token_is_shown_once_and_only_its_digest_is_stored() {
    let app = spawn_app().await;
    let (owner, instance) = app
        .developer_with_instance("logger@example.com", "solo")
        .await;
    let body = app
        .graphql(
            CREATE_TOKEN,
            json!({ "i": instance, "n": "  log shipper  " }),
            Some(&owner.token),
        )
        .await;
    let created = &body["data"]["createInstanceToken"];
    let token = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    let prefix = created["instanceToken"]["prefix"].as_str().expect("prefix");
    assert!(token.starts_with("inst_"), "{token}");
    assert!(token.len() >= 5 + 26, "at least 128 random bits: {token}");
    assert!(token.starts_with(prefix) && prefix.len() < token.len() / 2);
    assert_eq!(created["instanceToken"]["name"], "log shipper");
    assert_eq!(created["instanceToken"]["instanceId"], instance.as_str());
    assert!(created["instanceToken"]["revokedAt"].is_null());

    let rows = InstanceTokens::find()
        .all(&app.state.db)
        .await
        .expect("tokens");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let secret = &app.state.config.auth.license_key_secret;
    assert_eq!(row.token_hash, INSTANCE_TOKEN.digest(secret, token));
    for stored in [&row.token_hash, &row.prefix, &row.name] {
        assert!(!stored.contains(token), "the raw token is stored: {stored}");
    }

    // Later reads show the prefix, never the token again.
    let listed = app
        .graphql(LIST_TOKENS, json!({ "i": instance }), Some(&owner.token))
        .await;
    assert_eq!(
        listed["data"]["instanceTokens"]["nodes"][0]["prefix"], prefix,
        "{listed}"
    );
    assert!(!listed.to_string().contains(token));

    // Creating it is part of the instance's history.
    let events = InstanceEvents::find()
        .filter(instance_events::Column::InstanceId.eq(uuid(&instance)))
        .filter(instance_events::Column::EventType.eq("instance.token_created"))
        .count(&app.state.db)
        .await
        .expect("events");
    assert_eq!(events, 1);
}

#[tokio::test]
async fn the_token_never_reaches_the_audit_trail() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, _, token, token_id) = logger(&app).await;
    let audits = || async {
        AuditEvents::find()
            .count(&app.state.db)
            .await
            .expect("audit")
    };
    let before_append = audits().await;
    let appended = app
        .graphql(
            APPEND,
            json!({ "e": [{ "level": "INFO", "message": "hello" }] }),
            Some(&token),
        )
        .await;
    assert_eq!(appended["data"]["appendInstanceLogs"], 1, "{appended}");
    assert_eq!(
        audits().await,
        before_append,
        "log lines are data, not audited changes"
    );
    let revoked = app
        .graphql(REVOKE_TOKEN, json!({ "id": token_id }), Some(&admin))
        .await;
    assert!(revoked["errors"].is_null(), "{revoked}");

    let audited = AuditEvents::find()
        .filter(audit_events::Column::EventType.starts_with("instance.token_"))
        .all(&app.state.db)
        .await
        .expect("audit");
    let kinds: Vec<&str> = audited.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["instance.token_created", "instance.token_revoked"]);
    assert!(
        audited.iter().all(|e| e.entity_id == Some(uuid(&token_id))),
        "audited against the token"
    );
    let secret_part = &token["inst_".len()..];
    let digest = INSTANCE_TOKEN.digest(&app.state.config.auth.license_key_secret, &token);
    for event in AuditEvents::find().all(&app.state.db).await.expect("audit") {
        let metadata = event.metadata.to_string();
        assert!(
            !metadata.contains(secret_part) && !metadata.contains(&digest),
            "{}: {metadata}",
            event.event_type
        );
    }
}

#[tokio::test]
async fn an_instance_appends_its_logs_and_reads_them_back_filtered_and_paged() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (owner, instance, token, _) = logger(&app).await;
    let at = |s: u32| format!("2026-01-01T00:00:0{s}Z");
    let entries = json!([
        { "level": "DEBUG", "message": "m0", "loggedAt": at(0) },
        { "level": "INFO", "message": "m1", "loggedAt": at(1), "context": { "user": 42, "tags": ["a"] } },
        { "level": "WARN", "message": "m2", "loggedAt": at(2) },
        { "level": "ERROR", "message": "m3", "loggedAt": at(3) },
        { "level": "INFO", "message": "m4", "loggedAt": at(4) },
        // Same time as m4: the id settles the order, later first.
        { "level": "INFO", "message": "m4b", "loggedAt": at(4) },
        // No time given: the time of arrival, so the newest.
        { "level": "INFO", "message": "m5" }
    ]);
    let appended = app
        .graphql(APPEND, json!({ "e": entries }), Some(&token))
        .await;
    assert_eq!(appended["data"]["appendInstanceLogs"], 7, "{appended}");

    let all = logs(&app, &token, &instance, json!({})).await;
    assert_eq!(
        messages(&all),
        ["m5", "m4b", "m4", "m3", "m2", "m1", "m0"],
        "{all}"
    );
    assert_eq!(all["data"]["instanceLogs"]["totalCount"], 7);
    let m1 = &all["data"]["instanceLogs"]["edges"][5]["node"];
    assert_eq!(m1["context"], json!({ "user": 42, "tags": ["a"] }));
    assert_eq!(m1["level"], "INFO");
    assert_eq!(m1["instanceId"], instance.as_str());

    // The developer and an admin read the same; the token has been noted as used.
    for reader in [&owner.token, &admin] {
        let read = logs(&app, reader, &instance, json!({})).await;
        assert_eq!(messages(&read), messages(&all), "{read}");
    }
    let listed = app
        .graphql(LIST_TOKENS, json!({ "i": instance }), Some(&owner.token))
        .await;
    assert!(
        listed["data"]["instanceTokens"]["nodes"][0]["lastUsedAt"].is_string(),
        "{listed}"
    );

    let info = logs(&app, &token, &instance, json!({ "level": "INFO" })).await;
    assert_eq!(messages(&info), ["m5", "m4b", "m4", "m1"], "{info}");
    let warn_up = logs(&app, &token, &instance, json!({ "min": "WARN" })).await;
    assert_eq!(messages(&warn_up), ["m3", "m2"], "{warn_up}");
    let window = logs(
        &app,
        &token,
        &instance,
        json!({ "from": at(1), "to": at(4) }),
    )
    .await;
    assert_eq!(
        messages(&window),
        ["m3", "m2", "m1"],
        "from inclusive, to exclusive: {window}"
    );
    let both = logs(
        &app,
        &token,
        &instance,
        json!({ "level": "INFO", "min": "WARN" }),
    )
    .await;
    assert_eq!(error_code(&both), Some("VALIDATION"), "{both}");

    // Pages of two walk the list once, a page boundary falling between m4b and m4 (same time).
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = logs(
            &app,
            &token,
            &instance,
            json!({ "first": 2, "after": after }),
        )
        .await;
        let info = &page["data"]["instanceLogs"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some(), "{page}");
        seen.extend(messages(&page));
        pages += 1;
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, messages(&all));
    let filtered_page = logs(
        &app,
        &token,
        &instance,
        json!({ "min": "INFO", "first": 2 }),
    )
    .await;
    let cursor = filtered_page["data"]["instanceLogs"]["pageInfo"]["endCursor"].clone();
    let rest = logs(
        &app,
        &token,
        &instance,
        json!({ "min": "INFO", "first": 10, "after": cursor }),
    )
    .await;
    assert_eq!(messages(&rest), ["m4", "m3", "m2", "m1"], "{rest}");
}

#[tokio::test]
async fn a_batch_is_one_insert_and_a_bad_entry_is_refused_by_its_index() {
    let app = spawn_app().await;
    let (_, instance, token, _) = logger(&app).await;
    let stored = || async {
        InstanceLogs::find()
            .filter(instance_logs::Column::InstanceId.eq(uuid(&instance)))
            .count(&app.state.db)
            .await
            .expect("count")
    };

    let empty = app
        .graphql(
            APPEND,
            json!({ "e": [
                { "level": "INFO", "message": "fine" },
                { "level": "INFO", "message": "fine too" },
                { "level": "ERROR", "message": "   " }
            ] }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&empty), Some("VALIDATION"), "{empty}");
    assert_eq!(
        empty["errors"][0]["extensions"]["field"],
        "entries[2].message"
    );
    let long = app
        .graphql(
            APPEND,
            json!({ "e": [
                { "level": "INFO", "message": "fine" },
                { "level": "INFO", "message": "x".repeat(10_001) }
            ] }),
            Some(&token),
        )
        .await;
    assert_eq!(
        long["errors"][0]["extensions"]["field"], "entries[1].message",
        "{long}"
    );
    let unknown_level = app
        .graphql(
            APPEND,
            json!({ "e": [{ "level": "FATAL", "message": "no such level" }] }),
            Some(&token),
        )
        .await;
    assert!(unknown_level["errors"].is_array(), "{unknown_level}");
    assert_eq!(stored().await, 0, "a refused batch stores nothing");

    let batch: Vec<Value> = (0..500)
        .map(|n| json!({ "level": "DEBUG", "message": format!("line {n}") }))
        .collect();
    let (accepted, spent) = app
        .graphql_counted(APPEND, json!({ "e": batch }), Some(&token))
        .await;
    assert_eq!(accepted["data"]["appendInstanceLogs"], 500, "{accepted}");
    assert!(
        spent <= 5,
        "{spent} statements for 500 lines: one INSERT, not one each"
    );
    assert_eq!(stored().await, 500);

    let too_many: Vec<Value> = (0..501)
        .map(|n| json!({ "level": "DEBUG", "message": format!("line {n}") }))
        .collect();
    let refused = app
        .graphql(APPEND, json!({ "e": too_many }), Some(&token))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["field"], "entries",
        "{refused}"
    );
    assert_eq!(stored().await, 500);
}

#[tokio::test]
async fn appending_needs_an_instance_token_and_a_token_can_do_nothing_else() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (owner, instance, token, _) = logger(&app).await;
    let line = json!({ "e": [{ "level": "INFO", "message": "hi" }] });

    let by_developer = app.graphql(APPEND, line.clone(), Some(&owner.token)).await;
    assert_eq!(
        error_code(&by_developer),
        Some("FORBIDDEN"),
        "{by_developer}"
    );
    let by_admin = app.graphql(APPEND, line.clone(), Some(&admin)).await;
    assert_eq!(error_code(&by_admin), Some("FORBIDDEN"), "{by_admin}");
    let anonymous = app.graphql(APPEND, line.clone(), None).await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );

    // The token is no developer: it cannot list, create, mint more tokens or read the trail.
    for (query, variables) in [
        ("{ instances { nodes { id } } }", json!({})),
        ("{ me { id } }", json!({})),
        (
            "mutation { createInstance(name: \"X\", subdomain: \"token-made\", region: \"eu\") { id } }",
            json!({}),
        ),
        (CREATE_TOKEN, json!({ "i": instance, "n": "more" })),
        (LIST_TOKENS, json!({ "i": instance })),
        ("{ auditEvents { totalCount } }", json!({})),
    ] {
        let body = app.graphql(query, variables, Some(&token)).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body}");
    }
}

#[tokio::test]
async fn a_revoked_or_unknown_token_is_unauthenticated() {
    let app = spawn_app().await;
    let (owner, instance, token, token_id) = logger(&app).await;
    let (second, _) = token_for(&app, &owner.token, &instance).await;
    let line = json!({ "e": [{ "level": "INFO", "message": "hi" }] });
    assert_eq!(
        app.graphql(APPEND, line.clone(), Some(&token)).await["data"]["appendInstanceLogs"],
        1
    );

    let revoked = app
        .graphql(REVOKE_TOKEN, json!({ "id": token_id }), Some(&owner.token))
        .await;
    assert!(
        revoked["data"]["revokeInstanceToken"]["revokedAt"].is_string(),
        "{revoked}"
    );
    let refused = app
        .post("/graphql")
        .bearer_auth(&token)
        .json(&json!({ "query": APPEND, "variables": line }))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let read = logs(&app, &token, &instance, json!({})).await;
    assert_eq!(error_code(&read), Some("UNAUTHENTICATED"), "{read}");
    let again = app
        .graphql(REVOKE_TOKEN, json!({ "id": token_id }), Some(&owner.token))
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["reason"], "ALREADY_REVOKED",
        "{again}"
    );

    let unknown = format!("inst_{}", "a".repeat(40));
    let body = app.graphql(APPEND, line.clone(), Some(&unknown)).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");

    // The other token still works until its instance is deleted.
    let body = app.graphql(APPEND, line.clone(), Some(&second)).await;
    assert_eq!(body["data"]["appendInstanceLogs"], 1, "{body}");
    let deleted = app
        .graphql(
            "mutation($id: UUID!) { deleteInstance(id: $id) { status } }",
            json!({ "id": instance }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteInstance"]["status"], "deleted",
        "{deleted}"
    );
    let body = app.graphql(APPEND, line, Some(&second)).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
}

#[tokio::test]
async fn another_developer_and_another_instance_are_told_nothing() {
    let app = spawn_app().await;
    let (_, instance, token, token_id) = logger(&app).await;
    let (rival, rival_instance) = app
        .developer_with_instance("rival@example.com", "solo")
        .await;
    let (rival_token, _) = token_for(&app, &rival.token, &rival_instance).await;
    let line = json!({ "e": [{ "level": "WARN", "message": "mine" }] });
    app.graphql(APPEND, line, Some(&token)).await;

    for attempt in [
        logs(&app, &rival.token, &instance, json!({})).await,
        logs(&app, &rival_token, &instance, json!({})).await,
        logs(&app, &rival.token, &Uuid::now_v7().to_string(), json!({})).await,
        app.graphql(
            CREATE_TOKEN,
            json!({ "i": instance, "n": "stolen" }),
            Some(&rival.token),
        )
        .await,
        app.graphql(REVOKE_TOKEN, json!({ "id": token_id }), Some(&rival.token))
            .await,
        app.graphql(LIST_TOKENS, json!({ "i": instance }), Some(&rival.token))
            .await,
    ] {
        assert_eq!(error_code(&attempt), Some("NOT_FOUND"), "{attempt}");
    }
    // The rival's own logs are empty: appending with its token wrote to its own instance only.
    let own = logs(&app, &rival_token, &rival_instance, json!({})).await;
    assert_eq!(messages(&own), Vec::<String>::new(), "{own}");
    let still = InstanceTokens::find()
        .filter(instance_tokens::Column::RevokedAt.is_null())
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(still, 2, "the rival revoked nothing");
    let anonymous = app.graphql(LOGS, json!({ "i": instance }), None).await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
}
