use crate::helpers::{error_code, spawn_app, spawn_app_with};
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness_report_the_backend() {
    let app = spawn_app().await;
    let alive = app.get("/healthz").send().await.expect("sent");
    assert_eq!(alive.status(), 200);
    let ready = app.get("/readyz").send().await.expect("sent");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    let expected = if crate::helpers::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["backend"], expected);
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.clone().close().await.expect("close pool");
    let ready = app.get("/readyz").send().await.expect("sent");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn graphiql_is_served_at_the_root() {
    let app = spawn_app().await;
    let page = app.get("/").send().await.expect("sent");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("text");
    assert!(html.contains("graphiql") && html.contains("/graphql"));
    assert!(html.contains("Authorization"));
}

#[tokio::test]
async fn posts_without_a_json_content_type_are_refused() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .post("/graphql")
            .header("content-type", content_type)
            .body(r#"{"query":"mutation { login(email: \"a@b.co\", password: \"x\") { accessToken } }"}"#)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 415, "{content_type}");
    }
}

#[tokio::test]
async fn get_serves_queries_but_never_mutations() {
    let app = spawn_app().await;
    let query = app
        .get("/graphql")
        .query(&[("query", "{ plans { code } }")])
        .send()
        .await
        .expect("sent");
    assert_eq!(query.status(), 200);
    let body: Value = query.json().await.expect("json");
    assert!(body["data"]["plans"].is_array());

    let mutation = app
        .get("/graphql")
        .query(&[(
            "query",
            "mutation { login(email: \"a@b.co\", password: \"xxxxxxxxxx1\") { accessToken } }",
        )])
        .send()
        .await
        .expect("sent");
    assert_eq!(mutation.status(), 405);
    assert_eq!(mutation.headers()["allow"], "POST");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_with(&[("HTTP_BODY_LIMIT_BYTES", "2048")]).await;
    let padding = "x".repeat(4096);
    let response = app
        .post("/graphql")
        .json(&json!({ "query": format!("{{ plans {{ code }} }} # {padding}") }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn query_limits_answer_with_their_own_codes() {
    let app = spawn_app_with(&[
        ("GRAPHQL_MAX_DEPTH", "4"),
        ("GRAPHQL_MAX_COMPLEXITY", "20"),
        ("GRAPHQL_MAX_RECURSION", "6"),
        ("GRAPHQL_MAX_DIRECTIVES", "2"),
    ])
    .await;
    let deep = app
        .graphql(
            "{ developers { edges { node { licenses { plan { entitlements { maxSeats } } } } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(error_code(&deep), Some("QUERY_TOO_DEEP"), "{deep}");

    let wide: String = (0..25)
        .map(|i| format!("p{i}: plans {{ code }} "))
        .collect();
    let complex = app.graphql(&format!("{{ {wide} }}"), json!({}), None).await;
    assert_eq!(error_code(&complex), Some("QUERY_TOO_COMPLEX"), "{complex}");

    let nested = "{ plans ".to_owned() + &"{ ... on Plan ".repeat(8) + "{ code }" + &" }".repeat(9);
    let recursive = app.graphql(&nested, json!({}), None).await;
    assert_eq!(
        error_code(&recursive),
        Some("QUERY_TOO_RECURSIVE"),
        "{recursive}"
    );

    let directives = app
        .graphql(
            "{ plans { code @include(if: true) @skip(if: false) @include(if: true) } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        error_code(&directives),
        Some("TOO_MANY_DIRECTIVES"),
        "{directives}"
    );

    let unknown_field = app.graphql("{ nope }", json!({}), None).await;
    assert_eq!(
        error_code(&unknown_field),
        Some("GRAPHQL_VALIDATION_FAILED")
    );
    let unparsable = app.graphql("{ plans ", json!({}), None).await;
    assert_eq!(error_code(&unparsable), Some("GRAPHQL_PARSE_FAILED"));
}

#[tokio::test]
async fn a_repeated_document_is_still_validated_against_each_requests_variables() {
    let app = spawn_app().await;
    let query = "query($code: String!) { plan(code: $code) { code } }";
    for _ in 0..2 {
        let body = app.graphql(query, json!({ "code": "pro" }), None).await;
        assert_eq!(body["data"]["plan"]["code"], "pro", "{body}");
    }
    let wrong = app.graphql(query, json!({ "code": 42 }), None).await;
    assert_eq!(
        error_code(&wrong),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "a cached parse must not skip validation: {wrong}"
    );
    let missing = app.graphql(query, json!({}), None).await;
    assert_eq!(
        error_code(&missing),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{missing}"
    );
    let broken = app.graphql("query { plan(code: ", json!({}), None).await;
    assert_eq!(
        error_code(&broken),
        Some("GRAPHQL_PARSE_FAILED"),
        "{broken}"
    );
}
