//! Every listing, filter and sort is served by an index (PostgreSQL). Each document below is
//! sent as a client sends it, page one and then page two through its cursor; every statement
//! the gateway sent for it is then run again under EXPLAIN ANALYZE with sequential scans ruled
//! out. A large table read from end to end anyway (no index could serve the statement), or rows
//! read and thrown away or sorted out of proportion to the answer, fails the test with the plan.

use crate::helpers::{TestApp, on_postgres, spawn_app_with};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

/// Tables that grow with the business; the others (plans, pools, metrics, jobs) stay small.
const LARGE_TABLES: &[&str] = &[
    "users",
    "licenses",
    "license_assignments",
    "runtime_nodes",
    "audit_events",
    "instances",
    "instance_tokens",
    "instance_logs",
    "instance_events",
    "usage_events",
    "usage_rollups",
    "mail_outbox",
    "invitations",
    "credit_entries",
    "subscriptions",
    "invoices",
    "transactions",
    "webhook_events",
    "event_log",
    "sessions",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
];

/// A listing document: its name, the query (taking `$after`), where its connection sits in
/// the answer (absent for plain lists), and whether an admin or a developer sends it.
struct Listing {
    name: String,
    query: String,
    connection: Option<&'static str>,
    caller: Caller,
}

#[derive(Clone, Copy)]
enum Caller {
    Admin,
    Developer,
}

fn listing(name: impl Into<String>, caller: Caller, field: &'static str, args: &str) -> Listing {
    let args = if args.is_empty() {
        "first: 20, after: $after".to_owned()
    } else {
        format!("first: 20, after: $after, {args}")
    };
    Listing {
        name: name.into(),
        query: format!(
            "query($after: String) {{ {field}({args}) {{ totalCount pageInfo {{ endCursor }} edges {{ node {{ __typename }} }} }} }}"
        ),
        connection: Some(field),
        caller,
    }
}

fn plain(name: &str, caller: Caller, query: &str) -> Listing {
    Listing {
        name: name.to_owned(),
        query: query.to_owned(),
        connection: None,
        caller,
    }
}

fn listings(ids: &Ids) -> Vec<Listing> {
    use Caller::*;
    let mut all = Vec::new();
    for field in ["CREATED_AT", "EXPIRES_AT", "UTILIZATION"] {
        for direction in ["ASC", "DESC"] {
            let order = format!("orderBy: {{ field: {field}, direction: {direction} }}");
            all.push(listing(
                format!("licenses by {field} {direction}"),
                Admin,
                "licenses",
                &order,
            ));
            all.push(listing(
                format!("licenses in state by {field} {direction}"),
                Admin,
                "licenses",
                &format!("filter: {{ state: SUSPENDED }}, {order}"),
            ));
            all.push(listing(
                format!("own licenses by {field} {direction}"),
                Developer,
                "licenses",
                &order,
            ));
        }
    }
    let developer = &ids.developer;
    let license_filters = [
        "state: ACTIVE".to_owned(),
        "paymentState: FAILED".to_owned(),
        "planCode: \"pro\"".to_owned(),
        "product: \"core\"".to_owned(),
        "term: YEARLY".to_owned(),
        format!("developerId: \"{developer}\""),
        "expiringBefore: \"2027-01-01T00:00:00Z\"".to_owned(),
        "createdAfter: \"2026-06-01T00:00:00Z\"".to_owned(),
        "createdBefore: \"2020-06-01T00:00:00Z\"".to_owned(),
        "search: \"acme\"".to_owned(),
        format!("search: \"{}\"", ids.key_prefix),
        "state: ACTIVE, planCode: \"pro\", createdAfter: \"2026-06-01T00:00:00Z\"".to_owned(),
    ];
    all.push(listing(
        "licenses searched, by relevance",
        Admin,
        "licenses",
        "filter: { search: \"w7919\" }, orderBy: { field: RELEVANCE, direction: DESC }",
    ));
    for filter in license_filters {
        all.push(listing(
            format!("licenses where {filter}"),
            Admin,
            "licenses",
            &format!("filter: {{ {filter} }}"),
        ));
    }
    for filter in [
        "",
        "filter: { emailContains: \"scale-00017\" }",
        "filter: { planCode: \"pro\" }",
        "filter: { createdAfter: \"2026-06-01T00:00:00Z\" }",
        "filter: { createdBefore: \"2020-06-01T00:00:00Z\" }",
    ] {
        all.push(listing(
            format!("developers {filter}"),
            Admin,
            "developers",
            filter,
        ));
    }
    let license = &ids.license;
    for filter in [
        "".to_owned(),
        "filter: { entityType: \"license\" }".to_owned(),
        format!("filter: {{ entityId: \"{license}\" }}"),
        format!("filter: {{ actorId: \"{developer}\" }}"),
        "filter: { typePrefix: \"license.sus\" }".to_owned(),
        "filter: { from: \"2026-06-01T00:00:00Z\", to: \"2026-06-02T00:00:00Z\" }".to_owned(),
        "filter: { search: \"acme\" }".to_owned(),
    ] {
        all.push(listing(
            format!("audit events {filter}"),
            Admin,
            "auditEvents",
            &filter,
        ));
    }
    all.push(listing("own audit events", Developer, "auditEvents", ""));
    let instance = &ids.instance;
    all.push(listing(
        "instance logs",
        Admin,
        "instanceLogs",
        &format!("instanceId: \"{instance}\", minLevel: WARN"),
    ));
    all.push(listing(
        "mail outbox",
        Admin,
        "mailOutbox",
        "status: FAILED",
    ));
    all.push(listing("members", Developer, "members", ""));
    all.push(listing(
        "invitations",
        Developer,
        "invitations",
        "status: PENDING",
    ));
    all.push(listing("failed webhooks", Admin, "failedWebhooks", ""));
    for field in ["subscriptions", "invoices", "transactions"] {
        all.push(listing(field, Admin, field, ""));
        all.push(listing(
            format!("{field} of a developer"),
            Admin,
            field,
            &format!("developerId: \"{developer}\""),
        ));
    }
    all.push(listing(
        "credit ledger",
        Developer,
        "creditLedger",
        "kind: MAIL",
    ));
    all.push(plain(
        "nested read",
        Admin,
        "query($after: String) { developers(first: 20, after: $after) { edges { node { id email licenses { id plan { code } assignments { id status } runtimeNodes { id } auditEvents { id } } instances { id } } } } }",
    ));
    all.push(listing("own instances", Developer, "instances", ""));
    all.push(listing("instances", Admin, "instances", ""));
    all.push(listing(
        "instances of a developer",
        Admin,
        "instances",
        &format!("developerId: \"{developer}\""),
    ));
    all.push(listing(
        "instance tokens",
        Developer,
        "instanceTokens",
        &format!("instanceId: \"{instance}\""),
    ));
    all.push(listing("database pools", Admin, "databasePools", ""));
    for caller in [Admin, Developer] {
        let who = match caller {
            Admin => "everyone's",
            Developer => "own",
        };
        all.push(listing(
            format!("{who} webhook endpoints"),
            caller,
            "webhookEndpoints",
            "",
        ));
        all.push(listing(
            format!("{who} webhook deliveries"),
            caller,
            "webhookDeliveries",
            "",
        ));
        all.push(listing(
            format!("{who} failed webhook deliveries"),
            caller,
            "webhookDeliveries",
            "status: FAILED",
        ));
    }
    let endpoint = &ids.endpoint;
    all.push(listing(
        "one endpoint's dead webhook deliveries",
        Developer,
        "webhookDeliveries",
        &format!("endpointId: \"{endpoint}\", status: DEAD"),
    ));
    all.push(plain(
        "webhook deliveries with their attempts",
        Admin,
        "query($after: String) { webhookDeliveries(first: 20, after: $after) { edges { node { id attemptHistory { id number error } } } } }",
    ));
    all
}

/// What the documents point at: one loaded developer, its license, key prefix, instance and
/// webhook endpoint.
struct Ids {
    developer: String,
    license: String,
    key_prefix: String,
    instance: String,
    endpoint: String,
}

#[tokio::test]
async fn every_listing_filter_and_sort_is_served_by_an_index() {
    if !on_postgres() {
        return;
    }
    // Counts stop early, as at scale: a count is bounded by the limit, not the table.
    // No delivery worker: the loaded deliveries stay as written.
    let app = spawn_app_with(&[
        ("GRAPHQL_EXACT_COUNT_LIMIT", "100"),
        ("WEBHOOK_POLL_MILLIS", "0"),
    ])
    .await;
    api::scale_seed::run(&app.state, 3_000)
        .await
        .expect("scale load");
    let db = &app.state.db;
    let admin = app.admin_token().await;
    let (developer_token, ids) = a_loaded_developer(&app).await;
    db.execute_unprepared("ANALYZE").await.expect("analyze");

    let mut faults = Vec::new();
    let mut explained = 0;
    for listing in listings(&ids) {
        let token = match listing.caller {
            Caller::Admin => &admin,
            Caller::Developer => &developer_token,
        };
        let mut after = Value::Null;
        for page in 1..=2 {
            app.statements.record();
            let body = app
                .graphql(&listing.query, json!({ "after": after }), Some(token))
                .await;
            let statements = app.statements.take_recorded();
            assert!(body["errors"].is_null(), "{}: {body}", listing.name);
            for statement in statements.iter().filter(|s| is_read(s)) {
                explained += 1;
                if let Some(fault) = plan_fault(&app, statement).await {
                    faults.push(format!(
                        "{} (page {page}): {fault}\n  {}",
                        listing.name, statement.sql
                    ));
                }
            }
            let Some(field) = listing.connection else {
                break;
            };
            after = body["data"][field]["pageInfo"]["endCursor"].clone();
            if after.is_null() {
                break;
            }
        }
    }
    assert!(
        explained > 100,
        "only {explained} statements were explained"
    );
    assert!(faults.is_empty(), "{}", faults.join("\n\n"));
}

async fn a_loaded_developer(app: &TestApp) -> (String, Ids) {
    let db = &app.state.db;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT u.id::text, u.email, l.id::text, l.key_prefix, i.id::text \
             FROM users u JOIN licenses l ON l.developer_id = u.id \
             JOIN instances i ON i.developer_id = u.id \
             WHERE u.role = 'developer' AND u.email LIKE 'scale-%' ORDER BY u.id LIMIT 1",
        ))
        .await
        .expect("query")
        .expect("a loaded developer");
    let get = |i: usize| row.try_get_by_index::<String>(i).expect("column");
    let login = app
        .graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": get(1), "p": "scale password 1" }),
            None,
        )
        .await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {login}"))
        .to_owned();
    let endpoint = load_webhooks(app, &get(0)).await;
    let ids = Ids {
        developer: get(0),
        license: get(2),
        key_prefix: get(3),
        instance: get(4),
        endpoint,
    };
    (token, ids)
}

/// Webhook endpoints for 200 developers and three for the loaded developer, 40 deliveries
/// each, one in 40 each of pending, failed and dead (the rest delivered), each with its
/// attempts: the loaded developer's deliveries and those waiting are few among many, as at
/// scale. Answers one of the loaded developer's endpoints.
async fn load_webhooks(app: &TestApp, developer: &str) -> String {
    let db = &app.state.db;
    let endpoints = "INSERT INTO webhook_endpoints (id, owner_id, url, event_types, secret_seed, created_at) \
         SELECT gen_random_uuid(), u.id, 'https://hooks.example.com/' || u.id || '/' || n, '*', md5(u.id::text || n), now() \
         FROM users u, generate_series(1, 3) n \
         WHERE (u.id = $1::uuid) OR (n = 1 AND u.id IN (SELECT id FROM users WHERE role = 'developer' AND id <> $1::uuid ORDER BY id LIMIT 200))";
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        endpoints,
        [developer.into()],
    ))
    .await
    .expect("endpoints");
    let deliveries = "INSERT INTO webhook_deliveries \
         (id, endpoint_id, owner_id, event_id, event_type, payload, status, attempts, next_attempt_at, retry_until, last_attempt_at, created_at) \
         SELECT gen_random_uuid(), e.id, e.owner_id, gen_random_uuid(), 'license.updated', '{}'::json, \
                CASE n % 40 WHEN 0 THEN 'dead' WHEN 1 THEN 'failed' WHEN 2 THEN 'pending' ELSE 'succeeded' END, \
                1 + n % 3, CASE WHEN n % 40 IN (1, 2) THEN now() END, now() + interval '3 days', now(), now() \
         FROM webhook_endpoints e, generate_series(1, 40) n";
    db.execute_unprepared(deliveries).await.expect("deliveries");
    db.execute_unprepared(
        "INSERT INTO webhook_attempts (id, delivery_id, number, attempted_at, status_code, latency_ms, error) \
         SELECT gen_random_uuid(), d.id, k, now(), 500, 12, 'answered HTTP 500' \
         FROM webhook_deliveries d, generate_series(1, d.attempts) k",
    )
    .await
    .expect("attempts");
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id::text FROM webhook_endpoints WHERE owner_id = $1::uuid ORDER BY id LIMIT 1",
            [developer.into()],
        ))
        .await
        .expect("query")
        .expect("an endpoint");
    row.try_get_by_index::<String>(0).expect("id")
}

fn is_read(statement: &Statement) -> bool {
    let sql = statement.sql.trim_start();
    sql.starts_with("SELECT") || sql.starts_with("WITH") || sql.starts_with("(SELECT")
}

/// What is wrong with the statement's plan when sequential scans are ruled out, if anything.
/// The statement runs (EXPLAIN ANALYZE, in a transaction rolled back), so the plan carries what
/// each step really read.
async fn plan_fault(app: &TestApp, statement: &Statement) -> Option<String> {
    let txn = app.state.db.begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .expect("set");
    let explain = Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", statement.sql),
        statement.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    let row = txn
        .query_one_raw(explain)
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {}: {e}", statement.sql))
        .expect("a plan");
    txn.rollback().await.expect("rollback");
    let plan: Value = row.try_get_by_index(0).expect("json plan");
    let root = &plan[0]["Plan"];
    let answered = rows(root, "Actual Rows");
    fault_in(root, answered).map(|fault| format!("{fault}\n  plan: {root}"))
}

/// How many rows a step handled in all its loops, by one of its counters.
fn rows(node: &Value, counter: &str) -> f64 {
    node[counter].as_f64().unwrap_or(0.0) * node["Actual Loops"].as_f64().unwrap_or(1.0)
}

/// Work that does not grow with the answer is bounded; past this, a step has to earn its rows.
const SLACK: f64 = 200.0;

/// Walks a plan node for a large table scanned whole, rows read and thrown away (a filter no
/// index serves), or rows sorted, out of proportion to the `answered` rows.
fn fault_in(node: &Value, answered: f64) -> Option<String> {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let relation = node["Relation Name"].as_str().unwrap_or_default();
    if LARGE_TABLES.contains(&relation) {
        if kind == "Seq Scan" {
            return Some(format!("{relation} is scanned whole: no index serves it"));
        }
        let kept = rows(node, "Actual Rows");
        let dropped =
            rows(node, "Rows Removed by Filter") + rows(node, "Rows Removed by Index Recheck");
        if dropped > SLACK.max(4.0 * kept) {
            return Some(format!(
                "{relation} is read through {} and {dropped} rows are filtered out to keep {kept}",
                node["Index Name"].as_str().unwrap_or("an index")
            ));
        }
    }
    if kind == "Sort" {
        let sorted = rows(node, "Actual Rows");
        if sorted > SLACK.max(4.0 * answered) {
            return Some(format!("{sorted} rows are sorted to answer {answered}"));
        }
    }
    node["Plans"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|child| fault_in(child, answered))
}
