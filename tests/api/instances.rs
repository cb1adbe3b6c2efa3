use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with, spawn_patient_app};
use entity::{database_pools, instances, prelude::*};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use std::sync::Arc;

const CREATE: &str = r#"mutation($name: String!, $sub: String!, $region: String!) {
    createInstance(name: $name, subdomain: $sub, region: $region) { id status tier poolId databaseName databaseHost }
}"#;

async fn create(app: &TestApp, token: &str, sub: &str, region: &str) -> Value {
    app.graphql(
        CREATE,
        json!({ "name": "Shop", "sub": sub, "region": region }),
        Some(token),
    )
    .await
}

async fn pool(app: &TestApp, admin: &str, host: &str, region: &str, max: i32) -> Value {
    app.graphql(
        "mutation($h: String!, $r: String!, $m: Int) { createDatabasePool(host: $h, region: $r, maxDatabases: $m) { id currentDatabases usagePercent pastThreshold } }",
        json!({ "h": host, "r": region, "m": max }),
        Some(admin),
    )
    .await
}

#[tokio::test]
async fn a_full_pool_makes_instances_wait_and_a_freed_slot_goes_to_the_oldest_waiter() {
    let app = Arc::new(spawn_app().await);
    let admin = app.admin_token().await;
    let created = pool(&app, &admin, "db-eu-1.internal", "eu", 10).await;
    assert_eq!(
        created["data"]["createDatabasePool"]["currentDatabases"], 0,
        "{created}"
    );
    let tokens = app.developers_on("solo", 100).await;

    let attempts = tokens.into_iter().enumerate().map(|(n, token)| {
        let app = app.clone();
        tokio::spawn(async move {
            (
                token.clone(),
                create(&app, &token, &format!("shop-{n:03}"), "eu").await,
            )
        })
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut placed = Vec::new();
    let mut waiting = 0;
    for result in results {
        let (token, body) = result.expect("task");
        match body["data"]["createInstance"]["status"].as_str() {
            Some("provisioning") => {
                placed.push((token, body["data"]["createInstance"]["id"].clone()))
            }
            Some("waiting_for_capacity") => waiting += 1,
            _ => panic!("unexpected: {body}"),
        }
    }
    assert_eq!((placed.len(), waiting), (10, 90));
    let pools = DatabasePools::find()
        .all(&app.state.db)
        .await
        .expect("pools");
    assert_eq!(pools[0].current_databases, 10);

    let oldest_waiter = Instances::find()
        .filter(instances::Column::Status.eq("waiting_for_capacity"))
        .order_by_asc(instances::Column::CreatedAt)
        .order_by_asc(instances::Column::Id)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("a waiter");
    let (token, id) = &placed[0];
    let deleted = app
        .graphql(
            "mutation($id: UUID!) { deleteInstance(id: $id) { status } }",
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteInstance"]["status"], "deleted",
        "{deleted}"
    );
    let promoted = Instances::find_by_id(oldest_waiter.id)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(promoted.status, "provisioning");
    assert_eq!(promoted.pool_id, Some(pools[0].id));
    let pool_now = DatabasePools::find()
        .filter(database_pools::Column::Id.eq(pools[0].id))
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("pool");
    assert_eq!(pool_now.current_databases, 10);
}

#[tokio::test]
async fn a_new_pool_places_waiting_instances() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let dev = app.developer("waiter@example.com", "solo").await;
    let token = &dev.token;
    let first = create(&app, token, "patient-one", "us").await;
    assert_eq!(
        first["data"]["createInstance"]["status"], "waiting_for_capacity",
        "{first}"
    );
    let added = pool(&app, &admin, "db-us-1.internal", "us", 150).await;
    assert_eq!(
        added["data"]["createDatabasePool"]["currentDatabases"], 1,
        "{added}"
    );
    let listed = app
        .graphql(
            "{ instances { nodes { subdomain status databaseHost } } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(
        listed["data"]["instances"]["nodes"][0]["status"], "provisioning",
        "{listed}"
    );
    assert_eq!(
        listed["data"]["instances"]["nodes"][0]["databaseHost"],
        "db-us-1.internal"
    );
}

#[tokio::test]
async fn plans_bound_instances_and_subdomains_are_checked() {
    let app = spawn_app().await;
    app.pool("db-eu-2.internal", "eu").await;
    let dev = app.developer("builder@example.com", "solo").await; // solo: 2 workspaces
    let token = &dev.token;

    for sub in ["first-shop", "second-shop"] {
        let body = create(&app, token, sub, "eu").await;
        assert_eq!(body["data"]["createInstance"]["tier"], "shared", "{body}");
        assert!(
            body["data"]["createInstance"]["databaseName"]
                .as_str()
                .expect("name")
                .starts_with("instance_")
        );
    }
    let over = create(&app, token, "third-shop", "eu").await;
    assert_eq!(error_code(&over), Some("QUOTA_EXCEEDED"), "{over}");
    let ext = &over["errors"][0]["extensions"];
    assert_eq!(
        (
            ext["limit"].as_i64(),
            ext["current"].as_i64(),
            ext["metric"].as_str()
        ),
        (Some(2), Some(2), Some("instances"))
    );

    let rival = &app.developer("rival@example.com", "agency_pro").await.token;
    let taken = create(&app, rival, "first-shop", "eu").await;
    assert_eq!(
        taken["errors"][0]["extensions"]["reason"], "SUBDOMAIN_TAKEN",
        "{taken}"
    );
    for bad in ["www", "Bad_Name", "x"] {
        let body = create(&app, rival, bad, "eu").await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "subdomain",
            "{bad}: {body}"
        );
    }
    let dedicated = create(&app, rival, "big-agency", "eu").await;
    assert_eq!(
        dedicated["data"]["createInstance"]["tier"], "dedicated",
        "{dedicated}"
    );
    // Trialing: its server waits for the first payment.
    assert_eq!(
        dedicated["data"]["createInstance"]["status"],
        "waiting_for_capacity"
    );
    assert!(dedicated["data"]["createInstance"]["poolId"].is_null());

    let pools = app
        .graphql(
            "{ databasePools { nodes { host currentDatabases } } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&pools), Some("FORBIDDEN"));
}

#[tokio::test]
async fn instances_move_through_their_state_machine() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.pool("db-ap-1.internal", "ap").await;
    let dev = app.developer("ops@example.com", "solo").await;
    let token = &dev.token;
    let id = create(&app, token, "ops-shop", "ap").await["data"]["createInstance"]["id"].clone();
    let step = |name: &'static str, extra: &'static str| {
        format!("mutation($id: UUID!) {{ {name}(id: $id{extra}) {{ status failureReason }} }}")
    };

    let early = app
        .graphql(
            &step("resumeInstance", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&early), Some("INVALID_TRANSITION"), "{early}");
    let by_owner = app
        .graphql(
            &step("markInstanceRunning", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&by_owner), Some("FORBIDDEN"));
    let running = app
        .graphql(
            &step("markInstanceRunning", ""),
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        running["data"]["markInstanceRunning"]["status"], "running",
        "{running}"
    );
    let paused = app
        .graphql(
            &step("suspendInstance", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(paused["data"]["suspendInstance"]["status"], "suspended");
    let resumed = app
        .graphql(
            &step("resumeInstance", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(resumed["data"]["resumeInstance"]["status"], "running");
    let failed = app
        .graphql(
            &step("failInstance", ", reason: \"disk full\""),
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        failed["data"]["failInstance"]["failureReason"], "disk full",
        "{failed}"
    );
    let deleted = app
        .graphql(
            &step("deleteInstance", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(deleted["data"]["deleteInstance"]["status"], "deleted");
    let again = app
        .graphql(
            &step("deleteInstance", ""),
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&again), Some("INVALID_TRANSITION"));

    let events = entity::prelude::InstanceEvents::find()
        .filter(
            entity::instance_events::Column::InstanceId
                .eq(uuid::Uuid::parse_str(id.as_str().expect("id")).expect("uuid")),
        )
        .all(&app.state.db)
        .await
        .expect("events");
    assert_eq!(
        events.len(),
        6,
        "created, running, suspended, resumed, failed, deleted"
    );

    // A dedicated instance waits for the plan's first payment, which starts provisioning it;
    // an admin completes it by hand.
    let big = app.developer("bigco@example.com", "agency_pro").await;
    let big_id =
        create(&app, &big.token, "bigco", "ap").await["data"]["createInstance"]["id"].clone();
    let unpaid = app
        .graphql(
            "mutation($id: UUID!) { completeProvisioning(id: $id, host: \"db-bigco.internal\") { status } }",
            json!({ "id": big_id }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&unpaid), Some("INVALID_TRANSITION"), "{unpaid}");
    let paid = app
        .graphql(
            r#"mutation { createCheckoutSession(planCode: "agency_pro") { url } }"#,
            json!({}),
            Some(&big.token),
        )
        .await;
    assert!(paid["errors"].is_null(), "{paid}");
    let started = app
        .graphql(
            "{ instances { nodes { id status } } }",
            json!({}),
            Some(&big.token),
        )
        .await;
    assert_eq!(
        started["data"]["instances"]["nodes"],
        json!([{ "id": big_id, "status": "provisioning" }]),
        "{started}"
    );
    let done = app
        .graphql(
            "mutation($id: UUID!) { completeProvisioning(id: $id, host: \"db-bigco.internal\") { status databaseHost } }",
            json!({ "id": big_id }),
            Some(&admin),
        )
        .await;
    assert_eq!(
        done["data"]["completeProvisioning"]["databaseHost"], "db-bigco.internal",
        "{done}"
    );
    assert_eq!(done["data"]["completeProvisioning"]["status"], "running");
}

#[tokio::test]
async fn pools_are_resized_drained_and_watched() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let created = pool(&app, &admin, "db-sa-1.internal", "sa", 2).await;
    let pool_id = created["data"]["createDatabasePool"]["id"].clone();
    let a = app.developer("sa-one@example.com", "solo").await;
    let b = app.developer("sa-two@example.com", "solo").await;
    let c = app.developer("sa-three@example.com", "solo").await;
    for (dev, sub) in [(&a, "sa-one"), (&b, "sa-two"), (&c, "sa-three")] {
        create(&app, &dev.token, sub, "sa").await;
    }
    let watched = app
        .graphql(
            "{ poolsApproachingCapacity { host usagePercent pastThreshold } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        watched["data"]["poolsApproachingCapacity"][0]["usagePercent"], 100.0,
        "{watched}"
    );

    let update = "mutation($id: UUID!, $max: Int, $status: String) { updateDatabasePool(id: $id, maxDatabases: $max, status: $status) { currentDatabases maxDatabases status } }";
    let shrink = app
        .graphql(update, json!({ "id": pool_id, "max": 1 }), Some(&admin))
        .await;
    assert_eq!(
        shrink["errors"][0]["extensions"]["field"], "maxDatabases",
        "{shrink}"
    );
    let grown = app
        .graphql(update, json!({ "id": pool_id, "max": 3 }), Some(&admin))
        .await;
    assert_eq!(
        grown["data"]["updateDatabasePool"]["currentDatabases"], 3,
        "the waiter was placed: {grown}"
    );

    let drained = app
        .graphql(
            update,
            json!({ "id": pool_id, "max": 10, "status": "draining" }),
            Some(&admin),
        )
        .await;
    assert_eq!(drained["data"]["updateDatabasePool"]["status"], "draining");
    let d = app.developer("sa-four@example.com", "solo").await;
    let waits = create(&app, &d.token, "sa-four", "sa").await;
    assert_eq!(
        waits["data"]["createInstance"]["status"], "waiting_for_capacity",
        "a draining pool takes no one"
    );
}

#[tokio::test]
async fn developers_with_instances_and_pools_cost_one_statement_per_level() {
    let app = spawn_patient_app().await;
    let admin = app.admin_token().await;
    app.pool("db-eu-9.internal", "eu").await;
    let tokens = app.developers_on("solo", 12).await;
    for (n, token) in tokens.iter().enumerate() {
        create(&app, token, &format!("tenant-{n:02}"), "eu").await;
    }
    let query = "{ developers(first: 50, filter: { emailContains: \"tenant\" }) { edges { node { email instances { subdomain pool { host } } } } } }";
    let (body, spent) = app.graphql_counted(query, json!({}), Some(&admin)).await;
    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .expect("edges");
    assert_eq!(edges.len(), 12, "{body}");
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["instances"][0]["pool"]["host"] == "db-eu-9.internal")
    );
    assert!(
        spent <= 3,
        "{spent} statements for developers, instances and pools"
    );
}

#[tokio::test]
async fn developers_instances_usage_and_entitlements_cost_a_constant_number_of_statements() {
    let app = spawn_patient_app().await;
    let admin = app.admin_token().await;
    app.pool("db-eu-8.internal", "eu").await;
    let tokens = app.developers_on("solo", 12).await;
    for (n, token) in tokens.iter().enumerate() {
        let created = create(&app, token, &format!("metered-{n:02}"), "eu").await;
        let instance = created["data"]["createInstance"]["id"].clone();
        let recorded = app
            .graphql(
                r#"mutation($i: UUID!, $v: Int!) { recordUsage(events: [{ transactionId: "t", instanceId: $i, metric: "api_requests", value: $v }]) { accepted } }"#,
                json!({ "i": instance, "v": n + 1 }),
                Some(token),
            )
            .await;
        assert_eq!(recorded["data"]["recordUsage"]["accepted"], 1, "{recorded}");
    }
    let query = r#"{ developers(first: 50, filter: { emailContains: "tenant" }) { edges { node {
        email
        instances { subdomain pool { host } usage(metric: "api_requests") { periodStart value } }
        entitlements { key limit used remaining }
    } } } }"#;
    // Cold: nothing cached in this process for these developers.
    app.state.entitlements.clear();
    let (body, spent) = app.graphql_counted(query, json!({}), Some(&admin)).await;
    let edges = body["data"]["developers"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(edges.len(), 12, "{body}");
    let mut totals: Vec<i64> = edges
        .iter()
        .map(|e| {
            e["node"]["instances"][0]["usage"][0]["value"]
                .as_i64()
                .expect("usage")
        })
        .collect();
    totals.sort_unstable();
    assert_eq!(
        totals,
        (1..=12).collect::<Vec<i64>>(),
        "each instance its own series"
    );
    assert!(edges.iter().all(|e| {
        let customers = e["node"]["entitlements"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["key"] == "max_customers"))
            .cloned()
            .unwrap_or_default();
        customers["used"] == 1 && customers["limit"] == 5
    }));
    // developers 1, instances 1, pools 1, usage 1, entitlements 3 (licenses, plans,
    // overrides), usage now 3 (metrics, live instances, roll-ups).
    assert!(spent <= 10, "{spent} statements for the nested query");
    let (_, warm) = app.graphql_counted(query, json!({}), Some(&admin)).await;
    assert!(warm <= 7, "{warm} statements with entitlements cached");
}

#[tokio::test]
async fn the_scheduler_places_a_waiter_whose_room_came_without_a_placement() {
    let app = spawn_app_with(&[("TEST_CLOCK", "true")]).await;
    let admin = app.admin_token().await;
    let developer = app.developer("late@example.com", "solo").await;
    let waiting = create(&app, &developer.token, "late-shop", "af").await;
    assert_eq!(
        waiting["data"]["createInstance"]["status"], "waiting_for_capacity",
        "{waiting}"
    );
    // Room that appeared without passing through a mutation that places waiters.
    let now = chrono::Utc::now().fixed_offset();
    database_pools::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        host: Set("db-af-1.internal".into()),
        region: Set("af".into()),
        max_databases: Set(10),
        current_databases: Set(0),
        alert_threshold: Set(0.8),
        status: Set("active".into()),
        storage_used_bytes: Set(0),
        storage_total_bytes: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .expect("pool");
    let ran = app
        .graphql(
            "mutation { advanceTestClock(seconds: 60) { ran { job rows } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert!(
        ran["data"]["advanceTestClock"]["ran"]
            .as_array()
            .is_some_and(|jobs| jobs
                .iter()
                .any(|j| j["job"] == "INSTANCE_PLACEMENT" && j["rows"] == 1)),
        "{ran}"
    );
    let placed = app
        .graphql(
            "{ instances { nodes { status databaseHost } } }",
            json!({}),
            Some(&developer.token),
        )
        .await;
    assert_eq!(
        placed["data"]["instances"]["nodes"],
        json!([{ "status": "provisioning", "databaseHost": "db-af-1.internal" }]),
        "{placed}"
    );
}
