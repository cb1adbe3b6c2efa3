//! `seed --scale N`: N developers with realistic data, written by set-based statements, so that
//! listing, search and nested reads can be measured at a million licenses within minutes (a
//! signup each, through the password hash and the API, would take hours). PostgreSQL only.
//!
//! Per developer: two team members, `LICENSES_PER_DEVELOPER` licenses (each with both members
//! seated and a live runtime node, and its creation in the audit trail), an instance and a few
//! usage events. Accounts share one password hash (`scale password 1`). Ids are version 7,
//! made from each row's creation time, so that id order is creation order as everywhere else.

use crate::state::AppState;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait, Value,
};
use std::time::Instant;

pub const LICENSES_PER_DEVELOPER: i64 = 10;
const MEMBERS_PER_DEVELOPER: i64 = 2;
const USAGE_EVENTS_PER_DEVELOPER: i64 = 5;
/// Developers written per round of statements.
const CHUNK: i64 = 5_000;
pub const PASSWORD: &str = "scale password 1";

const PRODUCTS: &str =
    "ARRAY['crm','pos','booking','analytics','inventory','payroll','helpdesk','mailer']";
const ADJECTIVES: &str = "ARRAY['Blue','Bright','Golden','Silver','Quiet','Rapid','Green','Royal','Sunny','Urban','Coastal','Northern','Little','Grand','Happy','Modern','Rustic','Lucky','Noble','Prime']";
const NOUNS: &str = "ARRAY['Bakery','Garage','Studio','Salon','Clinic','Bistro','Market','Books','Fitness','Florist','Dental','Pharmacy','Tailor','Cafe','Hardware','Travel','Gallery','Dairy','Optics','Print']";
const FIRST_NAMES: &str = "ARRAY['Ada','Grace','Alan','Edsger','Barbara','Ken','Margaret','Linus','Frances','Dennis','Radia','Donald','Hedy','John','Karen','Tim']";
const LAST_NAMES: &str = "ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Thompson','Hamilton','Torvalds','Allen','Ritchie','Perlman','Knuth','Lamarr','Backus','Jones','Berners']";

/// A version 7 uuid for row `n` of `kind` (one hex digit), made at `at` (a timestamptz
/// expression): the time in its first 48 bits, then the run ($7, three hex digits), the kind
/// and `n`, which together make it unique without drawing random numbers for a million rows.
fn v7(kind: char, n: &str, at: &str) -> String {
    format!(
        "(lpad(to_hex((extract(epoch FROM {at}) * 1000)::bigint), 12, '0') || '7' || $7 || '8{kind}' \
         || lpad(to_hex({n}), 14, '0'))::uuid"
    )
}

/// When developer `g` signed up: spread evenly over the past year, in order.
const DEVELOPER_AT: &str =
    "($4::timestamptz + ($5::double precision * g) * interval '1 millisecond')";

fn statements() -> Vec<(&'static str, String)> {
    let developer = v7('1', "g", DEVELOPER_AT);
    let member = v7(
        '2',
        &format!("g * {MEMBERS_PER_DEVELOPER} + k"),
        DEVELOPER_AT,
    );
    let license_at = format!("({DEVELOPER_AT} + j * interval '1 day')");
    let n = format!("(g * {LICENSES_PER_DEVELOPER} + j)");
    let license = v7('3', &n, &license_at);
    let series = "generate_series($2::bigint, $3::bigint - 1) AS g";
    let licenses_of = format!(
        "{series}, generate_series(0, {} - 1) AS j",
        LICENSES_PER_DEVELOPER
    );
    vec![
        (
            "developers",
            format!(
                "INSERT INTO users (id, email, name, password_hash, role, email_verified_at, created_at, updated_at) \
                 SELECT {developer}, 'scale-' || $1 || '-' || g || '@example.com', \
                        ({FIRST_NAMES})[1 + g % 16] || ' ' || ({LAST_NAMES})[1 + (g / 16) % 16], \
                        $6, 'developer', {DEVELOPER_AT}, {DEVELOPER_AT}, {DEVELOPER_AT} \
                 FROM {series}"
            ),
        ),
        (
            "members",
            format!(
                "INSERT INTO users (id, email, name, password_hash, role, email_verified_at, created_at, updated_at, developer_id) \
                 SELECT {member}, 'scale-' || $1 || '-' || g || '-crew' || k || '@example.com', \
                        ({FIRST_NAMES})[1 + (g + k + 3) % 16] || ' ' || ({LAST_NAMES})[1 + (g + 7 * k) % 16], \
                        $6, 'member', {DEVELOPER_AT}, {DEVELOPER_AT}, {DEVELOPER_AT}, {developer} \
                 FROM {series}, generate_series(0, {MEMBERS_PER_DEVELOPER} - 1) AS k"
            ),
        ),
        (
            "licenses",
            // A fifth trialing, a few suspended, expired or past due, the rest active; the
            // third word of a DBA is one of 50,000, so it names about 20 licenses in a million.
            format!(
                "WITH p AS (SELECT array_agg(id ORDER BY code) AS ids FROM plans WHERE latest AND retired_at IS NULL) \
                 INSERT INTO licenses (id, developer_id, plan_id, key_hash, key_prefix, product, term, state, payment_state, \
                        seats_total, seats_used, starts_at, expires_at, trial_ends_at, grace_ends_at, created_at, updated_at, \
                        created_by, dba, zip, agents) \
                 SELECT {license}, {developer}, p.ids[1 + {n} % cardinality(p.ids)], \
                        'scale:' || $1 || ':' || {n}, \
                        upper(translate(substr(to_hex(({n} * 2654435761) % 4294967296 + 4294967296), 2, 5), '0189', 'qrst')), \
                        ({PRODUCTS})[1 + {n} % 8], \
                        CASE WHEN {n} % 3 = 0 THEN 'yearly' ELSE 'monthly' END, \
                        s.state, \
                        CASE s.state WHEN 'trialing' THEN 'not_required_for_trial' WHEN 'past_due' THEN 'past_due' ELSE 'active' END, \
                        2 + {n} % 24, {MEMBERS_PER_DEVELOPER}, {license_at}, \
                        {license_at} + (30 + ({n} * 37) % 700) * interval '1 day', \
                        CASE WHEN s.state = 'trialing' THEN {license_at} + interval '14 days' END, \
                        CASE WHEN s.state = 'past_due' THEN now() + interval '7 days' END, \
                        {license_at}, {license_at}, {developer}, \
                        ({ADJECTIVES})[1 + {n} % 20] || ' ' || ({NOUNS})[1 + ({n} / 20) % 20] || ' w' || (({n} * 7919) % 50000), \
                        lpad((({n} * 131) % 99999)::text, 5, '0'), 1 + {n} % 40 \
                 FROM {licenses_of}, p, \
                      LATERAL (SELECT CASE WHEN {n} % 5 = 0 THEN 'trialing' WHEN {n} % 97 = 1 THEN 'suspended' \
                                           WHEN {n} % 89 = 2 THEN 'expired' WHEN {n} % 83 = 3 THEN 'past_due' \
                                           ELSE 'active' END AS state) s"
            ),
        ),
        (
            "seats",
            format!(
                "INSERT INTO license_assignments (id, license_id, user_id, status, assigned_at, assigned_by, created_at, updated_at) \
                 SELECT {}, {license}, {member}, 'active', {license_at}, {developer}, {license_at}, {license_at} \
                 FROM {licenses_of}, generate_series(0, {MEMBERS_PER_DEVELOPER} - 1) AS k",
                v7(
                    '4',
                    &format!("{n} * {MEMBERS_PER_DEVELOPER} + k"),
                    &license_at
                )
            ),
        ),
        (
            "runtime nodes",
            format!(
                "INSERT INTO runtime_nodes (id, license_id, fingerprint, name, app_url, version, status, last_check_in_at, \
                        heartbeat_deadline_at, activated_at, created_at, updated_at) \
                 SELECT {}, {license}, 'node-' || $1 || '-' || {n}, 'node ' || {n}, 'https://n' || {n} || '.example.com', \
                        '1.' || ({n} % 9) || '.0', 'active', now(), now() + interval '30 days', {license_at}, {license_at}, now() \
                 FROM {licenses_of}",
                v7('5', &n, &license_at)
            ),
        ),
        (
            "audit trail",
            format!(
                "INSERT INTO audit_events (id, event_type, actor_id, actor_type, entity_type, entity_id, metadata, created_at, owner_id) \
                 SELECT {}, 'license.created', {developer}, 'user', 'license', {license}, \
                        json_build_object('product', ({PRODUCTS})[1 + {n} % 8]), {license_at}, {developer} \
                 FROM {licenses_of}",
                v7('6', &n, &license_at)
            ),
        ),
        (
            "instances",
            format!(
                "INSERT INTO instances (id, developer_id, name, subdomain, region, tier, status, database_name, database_user, \
                        created_at, updated_at) \
                 SELECT {}, {developer}, ({NOUNS})[1 + g % 20] || ' ' || g, 'scale-' || $1 || '-' || g, \
                        (ARRAY['eu','us','ap'])[1 + g % 3], 'shared', 'running', 'instance_' || $1 || '_' || g, \
                        'instance_' || $1 || '_' || g, {DEVELOPER_AT}, {DEVELOPER_AT} \
                 FROM {series}",
                v7('7', "g", DEVELOPER_AT)
            ),
        ),
        (
            "usage",
            format!(
                "INSERT INTO usage_events (id, developer_id, transaction_id, instance_id, metric_code, value, occurred_at, received_at) \
                 SELECT {}, {developer}, 'scale-' || u, {}, 'api_requests', 1 + (g * u) % 500, \
                        now() - u * interval '1 hour', now() - u * interval '1 hour' \
                 FROM {series}, generate_series(1, {USAGE_EVENTS_PER_DEVELOPER}) AS u",
                v7(
                    '8',
                    &format!("g * {USAGE_EVENTS_PER_DEVELOPER} + u"),
                    "now()"
                ),
                v7('7', "g", DEVELOPER_AT)
            ),
        ),
    ]
}

/// Every row written refers only to rows written before it, so the foreign-key triggers (a
/// lookup and a row lock on the referenced row for every row written: most of the time of a
/// bulk load) may be skipped, where the database role is allowed to.
const SKIP_REFERENCE_CHECKS: &str = "SET LOCAL session_replication_role = replica";

async fn may_skip_reference_checks(db: &DatabaseConnection) -> bool {
    let Ok(txn) = db.begin().await else {
        return false;
    };
    let allowed = txn.execute_unprepared(SKIP_REFERENCE_CHECKS).await.is_ok();
    let _ = txn.rollback().await;
    if !allowed {
        println!("note: this role may not skip foreign-key checks; loading with them (slower)");
    }
    allowed
}

/// On a database without licenses yet, the tables' secondary indexes are dropped for the load
/// and built again after it (as a restore does: building an index once is far cheaper than
/// keeping it up to date row by row), inside the load's transaction, so a failure puts them
/// back. Constraint indexes (keys, unique emails and key digests) stay. Answers the indexes set
/// aside, to build again.
async fn set_aside_indexes(txn: &DatabaseTransaction) -> anyhow::Result<Vec<(String, String)>> {
    let empty = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT NOT EXISTS (SELECT 1 FROM licenses) AS empty",
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "empty"))
        .transpose()?
        .unwrap_or(false);
    if !empty {
        return Ok(Vec::new());
    }
    let found = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.indexname, i.indexdef FROM pg_indexes i \
             WHERE i.schemaname = current_schema() AND i.tablename = ANY($1) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                               WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)",
            [Value::from(LOADED_TABLES.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())],
        ))
        .await?;
    let mut aside = Vec::with_capacity(found.len());
    for row in found {
        let name: String = row.try_get("", "indexname")?;
        let definition: String = row.try_get("", "indexdef")?;
        txn.execute_unprepared(&format!("DROP INDEX \"{name}\""))
            .await?;
        aside.push((name, definition));
    }
    Ok(aside)
}

/// The tables the load writes.
const LOADED_TABLES: &[&str] = &[
    "users",
    "licenses",
    "license_assignments",
    "runtime_nodes",
    "audit_events",
    "instances",
    "usage_events",
];

/// Writes `developers` developers and what they own, with a progress bar.
pub async fn run(app: &AppState, developers: u32) -> anyhow::Result<()> {
    let db = &app.db;
    anyhow::ensure!(
        db.get_database_backend() == DbBackend::Postgres,
        "seed --scale needs PostgreSQL: set DATABASE_URL=postgres://..."
    );
    let started = Instant::now();
    let hash = app
        .passwords
        .hash(PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow::anyhow!("hashing the shared password failed: {e:?}"))?;
    let run_id = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();
    let total = i64::from(developers);
    let year_ago = app.clock.now() - chrono::Duration::days(365);
    // Milliseconds between two signups, so that the last is about now.
    let step = 365.0 * 86_400_000.0 / total.max(1) as f64;
    let statements = statements();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} developers, {msg} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let unchecked = may_skip_reference_checks(db).await;
    // One transaction: on failure nothing is left half-loaded, and set-aside indexes return.
    let txn = db.begin().await?;
    if unchecked {
        txn.execute_unprepared(SKIP_REFERENCE_CHECKS).await?;
    }
    txn.execute_unprepared("SET LOCAL maintenance_work_mem = '256MB'")
        .await?;
    let aside = set_aside_indexes(&txn).await?;
    let mut spent = vec![std::time::Duration::ZERO; statements.len()];
    let mut from = 0;
    while from < total {
        let to = (from + CHUNK).min(total);
        let values: Vec<Value> = vec![
            run_id.clone().into(),
            from.into(),
            to.into(),
            year_ago.fixed_offset().into(),
            step.into(),
            hash.clone().into(),
            run_id[..3].to_owned().into(),
        ];
        for ((what, sql), spent) in statements.iter().zip(spent.iter_mut()) {
            bar.set_message(*what);
            let began = Instant::now();
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql.as_str(),
                values.clone(),
            ))
            .await
            .with_context(|| format!("writing {what}"))?;
            *spent += began.elapsed();
        }
        bar.set_position(to as u64);
        from = to;
    }
    let began = Instant::now();
    for (name, definition) in &aside {
        bar.set_message(format!("building {name}"));
        txn.execute_unprepared(definition)
            .await
            .with_context(|| format!("building {name}"))?;
    }
    let indexing = began.elapsed();
    txn.commit().await?;
    bar.set_message("analyzing");
    db.execute_unprepared("ANALYZE").await.context("ANALYZE")?;
    bar.finish_with_message("done");
    let times: Vec<String> = statements
        .iter()
        .zip(&spent)
        .map(|((what, _), spent)| format!("{what} {:.1} s", spent.as_secs_f64()))
        .collect();
    println!(
        "time spent: {}, indexes {:.1} s",
        times.join(", "),
        indexing.as_secs_f64()
    );
    println!(
        "scale: {developers} developers, {} licenses, {} seats, {} runtime nodes added in {:.0} s (password `{PASSWORD}`)",
        total * LICENSES_PER_DEVELOPER,
        total * LICENSES_PER_DEVELOPER * MEMBERS_PER_DEVELOPER,
        total * LICENSES_PER_DEVELOPER,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
