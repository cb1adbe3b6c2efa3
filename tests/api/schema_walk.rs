//! Two walks generated from the schema each caller is shown, so that a type, field or argument
//! added later is covered without a change here:
//! - another tenant's data reaches no caller, by any root field, argument, depth or
//!   subscription;
//! - hostile input at any argument, however deep in an input object, is answered with a
//!   documented status and code and never crashes a request or the server.

use crate::helpers::{
    Developer, Field, Filler, Member, Operation, PASSWORD, Schema, TestApp, TypeRef,
    initialised_ws, next_json, send_json, spawn_app_with,
};
use data_encoding::BASE64URL_NOPAD;
use futures_util::{StreamExt, future::join_all, stream};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Limits that would otherwise answer RATE_LIMITED before the arguments are looked at: the
/// walks sign in, sign up and try wrong keys far more often than a client would.
const GENEROUS: &[(&str, &str)] = &[
    ("AUTH_ATTEMPTS_PER_MINUTE", "1000000"),
    ("VALIDATION_FAILURES_PER_MINUTE", "1000000"),
    // Tenants' webhook endpoints point at a closed loopback port.
    ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
];

/// Every scope a developer's token may carry (the platform's are an admin's).
const DEVELOPER_SCOPES: &[&str] = &[
    "licenses:write",
    "seats:write",
    "members:write",
    "nodes:write",
    "instances:write",
    "usage:write",
    "plans:write",
    "billing:write",
    "audit:read",
    "webhooks:write",
];

/// Every scope a developer may grant, each the only scope of one token in the isolation walk.
const EACH_SCOPE: &[&str] = &[
    "licenses:read",
    "licenses:write",
    "seats:read",
    "seats:write",
    "members:read",
    "members:write",
    "nodes:read",
    "nodes:write",
    "instances:read",
    "instances:write",
    "usage:read",
    "usage:write",
    "plans:write",
    "billing:read",
    "billing:write",
    "audit:read",
    "webhooks:read",
    "webhooks:write",
];

/// Whether a token holding only `held` holds `needed` (a write scope grants its domain's read).
fn grants(held: &str, needed: &str) -> bool {
    held == needed
        || held
            .strip_suffix(":write")
            .is_some_and(|domain| needed.strip_suffix(":read") == Some(domain))
}

/// How many types deep the isolation walk follows object fields (fewer when a field's
/// selection would pass the cost limits).
const ISOLATION_DEPTH: usize = 4;
/// The same for the hostile walk, which looks at the answers' shape, not their reach.
const HOSTILE_DEPTH: usize = 2;
/// Requests in flight at once from one caller.
const IN_FLIGHT: usize = 4;

/// The statuses the README documents for `/graphql` (POST).
const STATUSES: &[u16] = &[200, 400, 401, 413, 415, 429, 503];

/// Every `extensions.code` the README's "Errors" table lists.
fn documented_codes() -> HashSet<String> {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let section = readme
        .split("\n## Errors\n")
        .nth(1)
        .and_then(|rest| rest.split("\n#").next())
        .expect("the README has an Errors section");
    let codes: HashSet<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|cell| cell.split('`').map(str::to_owned).collect::<Vec<_>>())
        .map(|code| code.trim_matches(|c: char| c == ',' || c == ' ').to_owned())
        .filter(|code| !code.is_empty())
        .collect();
    assert!(
        codes.contains("NOT_FOUND") && codes.contains("QUERY_TOO_DEEP"),
        "{codes:?}"
    );
    codes
}

/// A GraphQL request as it came back: the status and the body (JSON when it parsed).
struct Answer {
    status: u16,
    body: Result<Value, String>,
}

impl Answer {
    fn json(&self) -> Value {
        self.body.clone().unwrap_or(Value::Null)
    }

    /// The `extensions.code` of every error.
    fn codes(&self) -> Vec<String> {
        error_codes(&self.json())
    }
}

fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            e["extensions"]["code"]
                .as_str()
                .unwrap_or("(none)")
                .to_owned()
        })
        .collect()
}

/// POSTs one operation; an error here is a connection the server dropped or never answered.
async fn send(
    app: &TestApp,
    query: &str,
    variables: &Value,
    token: Option<&str>,
) -> Result<Answer, String> {
    let mut request = app
        .post("/graphql")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("{e:?}"))?;
    let body = serde_json::from_str(&text).map_err(|_| text.chars().take(300).collect());
    Ok(Answer { status, body })
}

/// A short, readable rendering of variables for a report (long strings and lists cut).
fn brief(value: &Value) -> String {
    fn cut(value: &Value) -> Value {
        match value {
            Value::String(s) if s.len() > 60 => {
                json!(format!(
                    "{}… ({} chars)",
                    &s[..s.char_indices().nth(40).map_or(s.len(), |(i, _)| i)],
                    s.chars().count()
                ))
            }
            Value::Array(items) if items.len() > 3 => {
                json!(format!("[{} items like {}]", items.len(), cut(&items[0])))
            }
            Value::Array(items) => Value::Array(items.iter().map(cut).collect()),
            Value::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), cut(v))).collect())
            }
            other => other.clone(),
        }
    }
    cut(value).to_string()
}

/// The deepest selection (at most `from`) the server accepts for this field: the cost limits
/// answer before anything runs, whatever the arguments.
async fn fitting_depth(
    app: &TestApp,
    token: Option<&str>,
    args: &Map<String, Value>,
    from: usize,
    document: impl Fn(usize) -> String,
) -> usize {
    let mut depth = from;
    while depth > 0 {
        let answer = send(app, &document(depth), &Value::Object(args.clone()), token).await;
        let too_costly = answer.is_ok_and(|a| {
            a.codes().iter().any(|c| {
                matches!(
                    c.as_str(),
                    "QUERY_TOO_DEEP" | "QUERY_TOO_COMPLEX" | "QUERY_TOO_LARGE"
                )
            })
        });
        if !too_costly {
            break;
        }
        depth -= 1;
    }
    depth
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation.

/// One tenant's data, made through the API, and every string that identifies it.
struct Tenant {
    name: &'static str,
    developer: Developer,
    instance: String,
    member: Member,
    instance_token: String,
    /// A partner's API token of the developer with every scope it may grant.
    api_token: String,
    /// One that may only read licenses.
    reading_token: String,
    /// Ids of what it owns, by kind (see `KINDS`), to pass as arguments.
    ids: Vec<(&'static str, String)>,
    /// Every string that identifies its data: ids, emails, key and token prefixes, keys,
    /// fingerprints, subdomains, database names, messages, notes.
    marks: Vec<String>,
    fingerprint: String,
    key_prefix: String,
    /// The keys and tokens among the marks: shown once, when made, and never again.
    shown_once: Vec<String>,
}

async fn ok(app: &TestApp, query: &str, variables: Value, token: Option<&str>) -> Value {
    let body = app.graphql(query, variables, token).await;
    assert!(body["errors"].is_null(), "{query}: {body}");
    body["data"].clone()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a string: {value}"))
        .to_owned()
}

/// A developer with everything a tenant can have: two licenses on two plans, a seat held by a
/// member of its team, an active runtime node, an instance with a token, a log line, usage, an
/// entitlement override, and the audit events all of that wrote.
async fn tenant(app: &TestApp, admin: &str, name: &'static str) -> Tenant {
    let email = format!("{name}@example.com");
    let (developer, instance) = app.developer_with_instance(&email, "pro").await;
    let dev = Some(developer.token.as_str());
    let tag = |what: &str| {
        format!(
            "{name}-{what}-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        )
    };
    let mut marks = vec![
        email,
        developer.id.to_string(),
        developer.license_id.to_string(),
        developer.license_key.clone(),
        instance.clone(),
    ];
    let mut ids = vec![
        ("developer", developer.id.to_string()),
        ("license", developer.license_id.to_string()),
        ("instance", instance.clone()),
    ];

    ok(
        app,
        "mutation($i: UUID!) { markInstanceRunning(id: $i) { id } }",
        json!({ "i": instance }),
        Some(admin),
    )
    .await;
    let own = ok(
        app,
        "query($l: UUID!) { license(id: $l) { keyPrefix } instances { nodes { subdomain databaseName databaseUser } } }",
        json!({ "l": developer.license_id }),
        dev,
    )
    .await;
    let key_prefix = text(&own["license"]["keyPrefix"]);
    marks.push(key_prefix.clone());
    let shown = &own["instances"]["nodes"][0];
    for field in ["subdomain", "databaseName", "databaseUser"] {
        marks.push(text(&shown[field]));
    }

    let (notes, dba, zip) = (tag("notes"), tag("dba"), tag("zip"));
    let second = ok(
        app,
        r#"mutation($d: UUID!, $n: String, $dba: String, $zip: String) {
            createLicense(input: { developerId: $d, planCode: "small_agency", notes: $n,
                                   customer: { dba: $dba, zip: $zip } }) {
                licenseKey license { id keyPrefix } } }"#,
        json!({ "d": developer.id, "n": notes, "dba": dba, "zip": zip }),
        Some(admin),
    )
    .await;
    let second = &second["createLicense"];
    let second_key = text(&second["licenseKey"]);
    ids.push(("license", text(&second["license"]["id"])));
    marks.extend([
        text(&second["license"]["id"]),
        text(&second["license"]["keyPrefix"]),
        text(&second["licenseKey"]),
        notes,
        dba,
        zip,
    ]);

    let member_email = format!("{name}-member@example.com");
    let member = app.team_member(&developer, &member_email).await;
    let seat = ok(
        app,
        "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) { id user { id } } }",
        json!({ "l": developer.license_id, "e": member_email }),
        dev,
    )
    .await;
    assert_eq!(
        text(&seat["assignSeat"]["user"]["id"]),
        member.id.to_string()
    );
    // A seat offered to an address outside the team waits on an invitation.
    let invited_email = format!("{name}-invited@example.com");
    let pending = ok(
        app,
        "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) { id invitation { id } } }",
        json!({ "l": developer.license_id, "e": invited_email }),
        dev,
    )
    .await;
    ids.extend([
        ("assignment", text(&seat["assignSeat"]["id"])),
        ("assignment", text(&pending["assignSeat"]["id"])),
        ("member", member.id.to_string()),
        (
            "invitation",
            text(&pending["assignSeat"]["invitation"]["id"]),
        ),
    ]);
    marks.extend([
        member_email,
        invited_email,
        text(&seat["assignSeat"]["id"]),
        text(&pending["assignSeat"]["id"]),
        text(&pending["assignSeat"]["invitation"]["id"]),
        member.id.to_string(),
    ]);

    let (fingerprint, node_name) = (tag("fp"), tag("edge"));
    let app_url = format!("https://{}.example.com", tag("app"));
    let node = ok(
        app,
        r#"mutation($k: String!, $f: String!, $u: String, $n: String) {
            activateRuntimeNode(licenseKey: $k, fingerprint: $f, appUrl: $u, version: "1.0.0", name: $n) { id } }"#,
        json!({ "k": developer.license_key, "f": fingerprint, "u": app_url, "n": node_name }),
        None,
    )
    .await;
    ids.push(("node", text(&node["activateRuntimeNode"]["id"])));
    marks.extend([
        text(&node["activateRuntimeNode"]["id"]),
        fingerprint.clone(),
        node_name,
        app_url,
    ]);

    let created = ok(
        app,
        "mutation($i: UUID!, $n: String!) { createInstanceToken(instanceId: $i, name: $n) { token instanceToken { id prefix } } }",
        json!({ "i": instance, "n": tag("collector") }),
        dev,
    )
    .await;
    let created = &created["createInstanceToken"];
    let instance_token = text(&created["token"]);
    ids.push(("token", text(&created["instanceToken"]["id"])));
    marks.extend([
        instance_token.clone(),
        text(&created["instanceToken"]["id"]),
        text(&created["instanceToken"]["prefix"]),
    ]);

    let (message, context) = (tag("log"), tag("context"));
    ok(
        app,
        "mutation($e: [InstanceLogInput!]!) { appendInstanceLogs(entries: $e) }",
        json!({ "e": [{ "level": "WARN", "message": message, "context": { "tenant": context } }] }),
        Some(&instance_token),
    )
    .await;
    let logs = ok(
        app,
        "query($i: UUID!) { instanceLogs(instanceId: $i) { edges { node { id } } } }",
        json!({ "i": instance }),
        dev,
    )
    .await;
    let log = text(&logs["instanceLogs"]["edges"][0]["node"]["id"]);
    ids.push(("log", log.clone()));
    marks.extend([log, message, context]);

    let record = "mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }";
    let usage = |tx: String| json!({ "e": [{ "transactionId": tx, "instanceId": instance, "metric": "api_requests", "value": 7 }] });
    ok(app, record, usage(tag("tx")), dev).await;
    ok(app, record, usage(tag("tx")), Some(&instance_token)).await;
    app.set_override(developer.id, "max_customers", json!(42))
        .await;
    let (notes, dba) = (tag("notes"), tag("dba"));
    ok(
        app,
        "mutation($l: UUID!, $n: String, $d: String) { updateLicense(id: $l, input: { notes: $n, customer: { dba: $d } }) { id } }",
        json!({ "l": developer.license_id, "n": notes, "d": dba }),
        Some(admin),
    )
    .await;
    marks.extend([notes, dba]);

    // A partner's token with every scope a developer may grant, and one that reads licenses.
    let mut api_tokens = Vec::new();
    for scopes in [DEVELOPER_SCOPES, &["licenses:read"][..]] {
        let made = ok(
            app,
            "mutation($s: [String!]!) { createApiToken(input: { name: \"walk\", scopes: $s }) { token apiToken { id prefix } } }",
            json!({ "s": scopes }),
            Some(&developer.token),
        )
        .await;
        let made = &made["createApiToken"];
        marks.extend([
            text(&made["apiToken"]["id"]),
            text(&made["apiToken"]["prefix"]),
        ]);
        api_tokens.push(text(&made["token"]));
    }
    let [api_token, reading_token] = <[String; 2]>::try_from(api_tokens).expect("two tokens");

    // A webhook endpoint for every event, and a delivery to it.
    let hook = ok(
        app,
        "mutation($u: String!) { createWebhookEndpoint(input: { url: $u, eventTypes: [\"*\"] }) { secret webhookEndpoint { id url } } }",
        json!({ "u": format!("http://127.0.0.1:9/{}", tag("hook")) }),
        dev,
    )
    .await;
    let hook = &hook["createWebhookEndpoint"];
    let endpoint = text(&hook["webhookEndpoint"]["id"]);
    let tried = ok(
        app,
        "mutation($e: UUID!) { testWebhookEndpoint(id: $e) { id } }",
        json!({ "e": endpoint }),
        dev,
    )
    .await;
    let delivery = text(&tried["testWebhookEndpoint"]["id"]);
    ids.extend([
        ("webhook", endpoint.clone()),
        ("delivery", delivery.clone()),
    ]);
    marks.extend([endpoint, delivery, text(&hook["webhookEndpoint"]["url"])]);
    let webhook_secret = text(&hook["secret"]);
    marks.push(webhook_secret.clone());

    Tenant {
        name,
        instance,
        member,
        shown_once: vec![
            developer.license_key.clone(),
            second_key,
            instance_token.clone(),
            api_token.clone(),
            reading_token.clone(),
            webhook_secret,
        ],
        instance_token,
        api_token,
        reading_token,
        ids,
        marks,
        developer,
        fingerprint,
        key_prefix,
    }
}

/// Adds to each tenant the audit events about what it owns or did (admins see them all).
async fn audit_events(app: &TestApp, admin: &str, tenants: &mut [&mut Tenant]) {
    let mut after: Option<String> = None;
    loop {
        let page = ok(
            app,
            "query($a: String) { auditEvents(first: 100, after: $a) {
                pageInfo { hasNextPage endCursor } edges { node { id type actorId entityId } } } }",
            json!({ "a": after }),
            Some(admin),
        )
        .await;
        for edge in page["auditEvents"]["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            // A sign-in is its account's own record: a member's is not its developer's to read.
            if node["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("session."))
            {
                continue;
            }
            for tenant in tenants.iter_mut() {
                let about = [&node["actorId"], &node["entityId"]]
                    .iter()
                    .filter_map(|v| v.as_str())
                    .any(|id| tenant.ids.iter().any(|(_, own)| own == id));
                if about {
                    tenant.marks.push(text(&node["id"]));
                }
            }
        }
        if page["auditEvents"]["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["auditEvents"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

/// A token of `developer` for each scope of `EACH_SCOPE`, holding that scope alone.
async fn one_scope_tokens(app: &TestApp, developer: &str) -> Vec<(&'static str, String)> {
    let mut tokens = Vec::new();
    for scope in EACH_SCOPE {
        let made = ok(
            app,
            "mutation($s: [String!]!) { createApiToken(input: { name: \"one scope\", scopes: $s }) { token } }",
            json!({ "s": [scope] }),
            Some(developer),
        )
        .await;
        tokens.push((*scope, text(&made["createApiToken"]["token"])));
    }
    tokens
}

/// Fills arguments with the other tenant's identifiers: ids of every kind in turn (and some of
/// the caller's own), emails, fingerprints, key prefixes, cursors that point at its rows. A
/// mutation is tried with the other's ids of the kind its argument names only (all of them
/// when it names none), and never with the caller's own, which it could change.
struct Probe<'a> {
    other: &'a Tenant,
    own: &'a Tenant,
    field: String,
    mutating: bool,
}

impl Probe<'_> {
    fn ids(&self, name: &str) -> Vec<String> {
        let all = || self.other.ids.iter().map(|(_, id)| id.clone());
        if self.mutating {
            let of_kind = ids_of_kind(&self.other.ids, &self.field, name);
            return if of_kind.is_empty() {
                all().collect()
            } else {
                of_kind
            };
        }
        all()
            .chain(self.own.ids.iter().take(3).map(|(_, id)| id.clone()))
            .collect()
    }

    /// Plausible text of the other tenant's for a string argument, by its name.
    fn strings(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        let other = self.other;
        let first = |needle: &str| {
            other
                .marks
                .iter()
                .find(|m| m.contains(needle))
                .cloned()
                .unwrap_or_default()
        };
        if name.contains("email") {
            vec![
                format!("{}@example.com", other.name),
                first("-member@"),
                other.name.to_owned(),
            ]
        } else if name.contains("fingerprint") {
            vec![other.fingerprint.clone()]
        } else if name == "key" || name.contains("licensekey") {
            // A key like theirs but not theirs: the key itself is the credential.
            let mut groups: Vec<String> = other
                .developer
                .license_key
                .split('-')
                .map(str::to_owned)
                .collect();
            if let Some(last) = groups.last_mut() {
                *last = if last.as_str() == "AAAAA" {
                    "BBBBB"
                } else {
                    "AAAAA"
                }
                .to_owned();
            }
            let mut keys = vec![groups.join("-"), other.key_prefix.clone()];
            if !self.mutating {
                // The caller's own key beside the other's fingerprint or product.
                keys.push(self.own.developer.license_key.clone());
            }
            keys
        } else if name.contains("code") {
            vec!["small_agency".to_owned()]
        } else if name.contains("metric") {
            vec!["api_requests".to_owned()]
        } else if name.contains("feature") {
            vec!["sso".to_owned()]
        } else if name.contains("search") {
            vec![
                other.key_prefix.clone(),
                first("-dba-"),
                other.name.to_owned(),
            ]
        } else if name.contains("prefix") {
            vec!["license.".to_owned(), "instance.".to_owned()]
        } else if name == "after" || name == "before" {
            let license = Uuid::parse_str(&other.ids[1].1).expect("uuid");
            vec![
                BASE64URL_NOPAD.encode(license.as_bytes()),
                BASE64URL_NOPAD.encode(b"at:0"),
            ]
        } else {
            vec![]
        }
    }
}

impl Filler for Probe<'_> {
    fn sample(
        &self,
        schema: &Schema,
        name: &str,
        ty: &TypeRef,
        required: bool,
        _beside: &Map<String, Value>,
    ) -> Option<Value> {
        if !required {
            return None;
        }
        Some(match schema.kind(ty.named()) {
            "ENUM" => json!(schema.enum_values(ty.named()).first()?),
            _ => sensible(ty.named(), || {
                self.strings(name)
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| "walk".to_owned())
            })
            .unwrap_or_else(|| json!(self.ids(name)[0])),
        })
    }

    fn probes(&self, schema: &Schema, name: &str, ty: &TypeRef) -> Vec<Value> {
        if ty.is_list() {
            return vec![];
        }
        match (schema.kind(ty.named()), ty.named()) {
            ("ENUM", named) => schema
                .enum_values(named)
                .first()
                .map(|v| json!(v))
                .into_iter()
                .collect(),
            (_, "UUID" | "ID") => self.ids(name).into_iter().map(Value::String).collect(),
            (_, "String") => self.strings(name).into_iter().map(Value::String).collect(),
            _ => vec![],
        }
    }
}

/// The words that name what an id is, most specific first: `revokeInstanceToken(id)` takes a
/// token, not an instance.
const KINDS: &[&str] = &[
    "delivery",
    "webhook",
    "token",
    "node",
    "invitation",
    "assignment",
    "seat",
    "log",
    "pool",
    "member",
    "license",
    "instance",
    "developer",
];

/// The ids in `ids` of the kind an argument names: by its own name (`licenseId`), or for `id`
/// and `oldId` by its field's (`deleteInstance`). Empty when it names no kind, or none is held.
fn ids_of_kind(ids: &[(&'static str, String)], field: &str, arg: &str) -> Vec<String> {
    let arg = arg.to_ascii_lowercase();
    let words = if arg == "id" || arg == "oldid" {
        field.to_ascii_lowercase()
    } else {
        arg
    };
    KINDS
        .iter()
        .find(|kind| words.contains(**kind))
        .map(|kind| {
            ids.iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, id)| id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A value of a built-in or this API's scalar that any field accepts; ids (None) and text
/// (`text`) are the caller's to choose.
fn sensible(scalar: &str, text: impl FnOnce() -> String) -> Option<Value> {
    let now = chrono::Utc::now();
    Some(match scalar {
        "UUID" | "ID" => return None,
        "Int" => json!(1),
        "Float" => json!(0.5),
        "Boolean" => json!(true),
        "DateTime" => json!(now.to_rfc3339()),
        "NaiveDate" => json!(now.date_naive().to_string()),
        "JSON" => json!(1),
        "String" => json!(text()),
        _ => json!(text()),
    })
}

/// The other tenant's strings found in an answer: anywhere in its data, and in its errors
/// unless the caller sent them itself.
fn leaked(answer: &Value, sent: &str, marks: &[String]) -> Vec<String> {
    let mut data = answer["data"].to_string();
    // A field answering exactly the text sent in the argument of its name is the caller's own
    // input given back (`inviteMember(email: x) { email }`), not something found.
    if let Ok(Value::Object(arguments)) = serde_json::from_str::<Value>(sent) {
        for (name, value) in arguments {
            if let Value::String(text) = value {
                data = data.replace(&format!("{}:{}", json!(name), json!(text)), "");
            }
        }
    }
    let errors = answer["errors"].to_string();
    marks
        .iter()
        .filter(|m| {
            data.contains(m.as_str()) || (errors.contains(m.as_str()) && !sent.contains(m.as_str()))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn no_caller_reaches_another_tenants_data_by_any_field() {
    let started = Instant::now();
    let app = spawn_app_with(GENEROUS).await;
    let admin = app.admin_token().await;
    let mut alice = tenant(&app, &admin, "alice").await;
    let mut bob = tenant(&app, &admin, "bob").await;
    audit_events(&app, &admin, &mut [&mut alice, &mut bob]).await;
    let setup = started.elapsed();

    let callers: Vec<(&str, Option<&str>)> = vec![
        ("alice's developer token", Some(&alice.developer.token)),
        ("alice's team member", Some(&alice.member.token)),
        ("alice's license key", Some(&alice.developer.license_key)),
        ("alice's instance token", Some(&alice.instance_token)),
        ("alice's API token", Some(&alice.api_token)),
        (
            "alice's licenses:read API token",
            Some(&alice.reading_token),
        ),
        ("anonymous", None),
    ];
    let mut findings = Vec::new();
    let mut seen_by_developer = String::new();
    // Every caller's queries first, then its mutations (which may add to Alice's data). A token
    // of each scope alone walks them too, after the others: it reaches nothing of Bob's, and is
    // never refused a scope it holds. (Subscriptions are refused or granted by the same check
    // before they start; the callers above open them all.) Those tokens are made after the
    // developer's queries, which saw the tenant's first pages as they were.
    let mut scoped_tokens = Vec::new();
    for op in [Operation::Query, Operation::Mutation] {
        for (who, token) in &callers {
            let walk = IsolationWalk {
                app: &app,
                who,
                token: *token,
                held: None,
                own: &alice,
                other: &bob,
            };
            let (walk_findings, seen) = walk.run(op).await;
            findings.extend(walk_findings);
            if *who == "alice's developer token" {
                seen_by_developer += &seen;
            }
            if op == Operation::Query && *who == "alice's developer token" {
                scoped_tokens = one_scope_tokens(&app, &alice.developer.token).await;
            }
        }
        for (scope, token) in &scoped_tokens {
            let who = format!("alice's {scope} API token");
            let walk = IsolationWalk {
                app: &app,
                who: &who,
                token: Some(token),
                held: Some(scope),
                own: &alice,
                other: &bob,
            };
            findings.extend(walk.run(op).await.0);
        }
    }
    // The walk reaches the caller's own data at every kind of row, so finding none of the other
    // tenant's means something.
    let unseen: Vec<&String> = alice
        .marks
        .iter()
        .filter(|m| !alice.shown_once.contains(m) && !seen_by_developer.contains(m.as_str()))
        .collect();
    assert!(
        unseen.is_empty(),
        "the walk never showed alice's developer her own {unseen:?}"
    );

    // Subscriptions: every root field for every caller, while Bob's side changes.
    findings.extend(
        subscriptions_stay_within_the_tenant(&app, &admin, &callers, &alice, &mut bob).await,
    );

    eprintln!("isolation: setup {setup:?}, total {:?}", started.elapsed());
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n\n")
    );
}

/// Mutations that end a walking caller's session: walking them would sign the caller (or the
/// team member walking after it) out for every field after. `logout` and `logoutEverywhere`
/// take no argument that could reach another tenant; `removeMember` across tenants is proven
/// in `members.rs`.
const ENDS_THE_CALLERS_SESSION: &[&str] = &["logout", "logoutEverywhere", "removeMember"];

/// One caller's walk of every root field of one operation type with the other tenant's
/// identifiers as arguments.
struct IsolationWalk<'a> {
    app: &'a TestApp,
    who: &'a str,
    token: Option<&'a str>,
    /// The one scope of a token caller walked for it.
    held: Option<&'a str>,
    own: &'a Tenant,
    other: &'a Tenant,
}

impl IsolationWalk<'_> {
    /// Every answer that shows the other tenant's strings (or a fault), and the text of all
    /// answers.
    async fn run(&self, op: Operation) -> (Vec<String>, String) {
        let (app, who, token) = (self.app, self.who, self.token);
        let schema = Schema::fetch(app, token).await;
        let mut jobs = Vec::new();
        let mut skipped = Vec::new();
        let mut shallower = BTreeMap::new();
        let fields = schema.root_fields(op);
        for field in &fields {
            if ENDS_THE_CALLERS_SESSION.contains(&field.name.as_str()) {
                skipped.push(field.name.clone());
                continue;
            }
            let probe = Probe {
                other: self.other,
                own: self.own,
                field: field.name.clone(),
                mutating: op == Operation::Mutation,
            };
            let Some(requests) = schema.requests(field, &probe) else {
                skipped.push(field.name.clone());
                continue;
            };
            let depth = match op {
                Operation::Query => {
                    fitting_depth(app, token, &requests[0], ISOLATION_DEPTH, |depth| {
                        schema.document(op, field, &requests[0], depth, &probe)
                    })
                    .await
                }
                _ => ISOLATION_DEPTH,
            };
            if depth < ISOLATION_DEPTH {
                shallower.insert(field.name.clone(), depth);
            }
            for args in requests {
                let query = schema.document(op, field, &args, depth, &probe);
                jobs.push((query, Value::Object(args)));
            }
        }
        let sent = jobs.len();
        let answers: Vec<_> = stream::iter(jobs)
            .map(|(query, variables)| async move {
                let answer = send(app, &query, &variables, token).await;
                (query, variables, answer)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut findings = Vec::new();
        let mut seen = String::new();
        let mut refused_for_scope = 0;
        for (query, variables, answer) in answers {
            let answer = match answer {
                Ok(answer) => answer,
                Err(err) => {
                    findings.push(format!(
                        "{who}: no answer to {query}\n  variables {}\n  {err}",
                        brief(&variables)
                    ));
                    continue;
                }
            };
            let body = answer.json();
            let leaks = leaked(&body, &variables.to_string(), &self.other.marks);
            let fault = answer.status >= 500 || answer.codes().iter().any(|c| c == "INTERNAL");
            let wrongly_refused: Vec<&str> = body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["extensions"]["requiredScope"].as_str())
                .filter(|needed| self.held.is_some_and(|held| grants(held, needed)))
                .collect();
            refused_for_scope +=
                usize::from(body["errors"][0]["extensions"]["requiredScope"].is_string());
            if !wrongly_refused.is_empty() {
                findings.push(format!(
                    "{who}: {query}\n  refused {wrongly_refused:?}, which it holds"
                ));
            }
            if !leaks.is_empty() || fault {
                findings.push(format!(
                    "{who}: {query}\n  variables {}\n  status {} answer {}\n  {}'s: {leaks:?}",
                    brief(&variables),
                    answer.status,
                    body.to_string().chars().take(800).collect::<String>(),
                    self.other.name
                ));
            }
            seen += &body.to_string();
        }
        if self.held.is_some() && op == Operation::Query && refused_for_scope == 0 {
            findings.push(format!(
                "{who}: no query was refused for a scope it lacks: the scope check did not run"
            ));
        }
        let (reached, missed) = schema.reach(op, ISOLATION_DEPTH);
        let own = self.own.marks.iter().filter(|m| seen.contains(m.as_str()));
        eprintln!(
            "isolation, {who}: {} {} fields, {sent} requests, {} of {} own marks seen; {} object types reached, not {missed:?}; shallower {shallower:?}; skipped {skipped:?}",
            fields.len(),
            op.keyword(),
            own.count(),
            self.own.marks.len(),
            reached.len(),
        );
        (findings, seen)
    }
}

/// Opens every subscription root field for every caller, changes Bob's licenses, seats,
/// instance and runtime nodes, then Alice's license, and answers what any caller received of
/// Bob's. The first caller (Alice's developer) must have seen Alice's change: it was listening,
/// and events arrive in order, so Bob's would have come before.
async fn subscriptions_stay_within_the_tenant(
    app: &TestApp,
    admin: &str,
    callers: &[(&str, Option<&str>)],
    alice: &Tenant,
    bob: &mut Tenant,
) -> Vec<String> {
    let mut sockets = Vec::new();
    for (who, token) in callers {
        let schema = Schema::fetch(app, *token).await;
        let mut socket = initialised_ws(&app.ws_url(), *token).await;
        let mut opened = 0;
        for field in schema.root_fields(Operation::Subscription) {
            let probe = Probe {
                other: bob,
                own: alice,
                field: field.name.clone(),
                mutating: false,
            };
            for (n, args) in schema
                .requests(&field, &probe)
                .unwrap_or_default()
                .into_iter()
                .take(20)
                .enumerate()
            {
                let query = schema.document(
                    Operation::Subscription,
                    &field,
                    &args,
                    ISOLATION_DEPTH,
                    &probe,
                );
                send_json(
                    &mut socket,
                    json!({ "id": format!("{}-{n}", field.name), "type": "subscribe",
                                "payload": { "query": query, "variables": args } }),
                )
                .await;
                opened += 1;
            }
        }
        eprintln!("isolation, {who}: {opened} subscriptions");
        sockets.push((who.to_owned(), socket));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Bob's side changes: by the admin, by Bob, by his runtime.
    let (notes, email, fingerprint) = (
        format!("{}-notes-{}", bob.name, Uuid::new_v4().simple()),
        format!("{}-second@example.com", bob.name),
        format!("{}-fp-{}", bob.name, Uuid::new_v4().simple()),
    );
    bob.marks
        .extend([notes.clone(), email.clone(), fingerprint.clone()]);
    let bobs_license = bob.developer.license_id;
    let second = Uuid::parse_str(&bob.ids[3].1).expect("uuid");
    ok(
        app,
        "mutation($l: UUID!, $n: String) { updateLicense(id: $l, input: { notes: $n }) { id } }",
        json!({ "l": bobs_license, "n": notes }),
        Some(admin),
    )
    .await;
    ok(
        app,
        "mutation($l: UUID!) { suspendLicense(id: $l) { id } }",
        json!({ "l": second }),
        Some(admin),
    )
    .await;
    ok(
        app,
        "mutation($l: UUID!) { reinstateLicense(id: $l) { id } }",
        json!({ "l": second }),
        Some(admin),
    )
    .await;
    ok(
        app,
        "mutation($l: UUID!) { renewLicense(id: $l) { id } }",
        json!({ "l": bobs_license }),
        Some(admin),
    )
    .await;
    ok(
        app,
        "mutation($l: UUID!, $e: String!) { assignSeat(licenseId: $l, userEmail: $e) { id } }",
        json!({ "l": bobs_license, "e": email }),
        Some(&bob.developer.token),
    )
    .await;
    ok(
        app,
        "mutation($i: UUID!) { suspendInstance(id: $i) { id } }",
        json!({ "i": bob.instance }),
        Some(admin),
    )
    .await;
    ok(
        app,
        "mutation($i: UUID!) { resumeInstance(id: $i) { id } }",
        json!({ "i": bob.instance }),
        Some(&bob.developer.token),
    )
    .await;
    let runtime = ok(
        app,
        "mutation($k: String!, $f: String!) { activateRuntimeNode(licenseKey: $k, fingerprint: $f) { id } }",
        json!({ "k": bob.developer.license_key, "f": fingerprint }),
        None,
    )
    .await;
    bob.marks.push(text(&runtime["activateRuntimeNode"]["id"]));
    ok(
        app,
        "mutation($k: String!, $f: String!) { checkIn(licenseKey: $k, fingerprint: $f) { valid } }",
        json!({ "k": bob.developer.license_key, "f": bob.fingerprint }),
        None,
    )
    .await;
    // Then Alice's: her developer's subscription must see this one.
    ok(
        app,
        "mutation($l: UUID!) { updateLicense(id: $l, input: { notes: \"alice again\" }) { id } }",
        json!({ "l": alice.developer.license_id }),
        Some(admin),
    )
    .await;

    let received = join_all(sockets.iter_mut().map(|(who, socket)| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1200);
        let mut messages = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout_at(deadline, next_json(socket)).await {
            if message["type"] == "ping" {
                send_json(socket, json!({ "type": "pong" })).await;
            } else {
                messages.push(message);
            }
        }
        (who.to_string(), messages)
    }))
    .await;
    let mut findings = Vec::new();
    for (who, messages) in &received {
        let kinds: Vec<&str> = messages.iter().filter_map(|m| m["type"].as_str()).collect();
        eprintln!("isolation, {who}: subscription messages {kinds:?}");
        for message in messages {
            let payload = &message["payload"];
            let leaks = leaked(&json!({ "data": payload }), "", &bob.marks);
            let codes = error_codes(payload);
            if !leaks.is_empty() || codes.iter().any(|c| c == "INTERNAL") {
                findings.push(format!(
                    "{who}: subscription message {message}\n  {}'s: {leaks:?}",
                    bob.name
                ));
            }
        }
    }
    let (_, developer) = received
        .iter()
        .find(|(who, _)| who == callers[0].0)
        .expect("the first caller's messages");
    assert!(
        developer.iter().any(|m| m["type"] == "next"
            && m.to_string()
                .contains(&alice.developer.license_id.to_string())),
        "alice's developer subscription heard nothing of her own change: {developer:?}"
    );
    findings
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

/// Fills arguments with values that work (the test's own ids, known codes), and probes each
/// position with the values a hostile client would send: integer and float extremes, dates at
/// the calendar's ends, text with NUL, empty and past every limit, long lists, unknown enum
/// values, malformed ids and cursors.
struct Hostile<'a> {
    /// The root field being walked, to tell what an argument named `id` is.
    field: String,
    /// Ids by the word that names their kind, most specific first.
    ids: &'a [(&'static str, String)],
    license_key: &'a str,
    /// Text of about 900 KB: past any text limit, within the body limit.
    huge: &'a Value,
    /// Whether to probe with it, and with lists of 10,000 items.
    heavy: bool,
}

impl Hostile<'_> {
    fn known_id(&self, name: &str) -> Option<String> {
        ids_of_kind(self.ids, &self.field, name).into_iter().next()
    }

    fn text(&self, name: &str) -> String {
        let name = name.to_ascii_lowercase();
        let field = self.field.to_ascii_lowercase();
        let known = [
            ("email", "walker@example.com"),
            ("password", PASSWORD),
            ("metric", "api_requests"),
            ("code", "pro"),
            ("feature", "sso"),
            ("region", "eu"),
            ("subdomain", "walk-shop"),
            ("host", "db-walk.internal"),
            ("fingerprint", "fp-walk"),
            ("transactionid", "walk-tx"),
            ("status", "active"),
        ];
        if name == "key" && field.contains("entitlement") {
            return "max_customers".to_owned();
        }
        if name == "key" || name.contains("licensekey") {
            return self.license_key.to_owned();
        }
        known
            .iter()
            .find(|(word, _)| name.contains(word))
            .map_or("walk", |(_, value)| value)
            .to_owned()
    }
}

impl Filler for Hostile<'_> {
    fn sample(
        &self,
        schema: &Schema,
        name: &str,
        ty: &TypeRef,
        required: bool,
        beside: &Map<String, Value>,
    ) -> Option<Value> {
        let named = ty.named();
        if matches!(named, "UUID" | "ID") {
            if required {
                return Some(json!(
                    self.known_id(name)
                        .unwrap_or_else(|| Uuid::new_v4().to_string())
                ));
            }
            // One optional id per level (an instance, say), so a field asking for exactly one
            // is answered past that check.
            let another = beside.keys().any(|k| k == "id" || k.ends_with("Id"));
            return (name != "id" && !another)
                .then(|| self.known_id(name))
                .flatten()
                .map(Value::String);
        }
        if !required {
            return None;
        }
        Some(match schema.kind(named) {
            "ENUM" => json!(schema.enum_values(named).first()?),
            _ => sensible(named, || self.text(name))?,
        })
    }

    fn probes(&self, schema: &Schema, name: &str, ty: &TypeRef) -> Vec<Value> {
        if ty.kind == "LIST" || (ty.non_null() && ty.inner().kind == "LIST") {
            let list = if ty.non_null() { ty.inner() } else { ty };
            let Some(one) = schema.sample(name, list.inner(), true, &Map::new(), self) else {
                return vec![];
            };
            let lengths: &[usize] = if self.heavy {
                &[1_001, 10_000]
            } else {
                &[1_001]
            };
            return lengths
                .iter()
                .map(|n| Value::Array(vec![one.clone(); *n]))
                .collect();
        }
        let named = ty.named();
        if schema.kind(named) == "ENUM" {
            let first = schema.enum_values(named).first().copied().unwrap_or("A");
            return vec![
                json!("NOT_A_VALUE"),
                json!(first.to_ascii_lowercase()),
                json!(""),
            ];
        }
        if schema.kind(named) == "INPUT_OBJECT" {
            return vec![json!("walk")];
        }
        let nul = json!("a\u{0}b");
        let mut probes = match named {
            "Int" => vec![
                json!(i32::MIN),
                json!(i32::MAX),
                json!(-1),
                json!(0),
                json!(i64::from(i32::MAX) + 1),
                json!(i64::MIN),
                json!(1.5),
            ],
            "Float" => vec![
                json!(1e308),
                json!(-1e308),
                json!(-1.0),
                json!(0.0),
                json!(5e-324),
            ],
            "Boolean" => vec![json!("true")],
            "DateTime" => vec![
                json!("-262143-01-01T00:00:00Z"),
                json!("+262142-12-31T00:00:00Z"),
                json!("0000-01-01T00:00:00Z"),
                json!("9999-12-31T23:59:59Z"),
                json!("1970-01-01T00:00:00Z"),
                json!("nope"),
            ],
            "NaiveDate" => vec![
                json!("-262143-01-01"),
                json!("+262142-12-31"),
                json!("0000-01-01"),
                json!("nope"),
            ],
            "UUID" | "ID" => vec![
                json!("nope"),
                json!(""),
                json!(Uuid::nil()),
                json!(Uuid::max()),
                json!(Uuid::new_v4()),
                nul,
            ],
            "JSON" => vec![
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1e308),
                (0..100).fold(json!(0), |inner, _| json!([inner])),
                json!((0..10_000).collect::<Vec<_>>()),
                nul,
            ],
            "String" if matches!(name, "after" | "before") => vec![
                json!("nope"),
                json!(BASE64URL_NOPAD.encode(&[0xff, 0xfe, 0x00, 0x41, 0x9c])),
                json!(BASE64URL_NOPAD.encode(format!("at:{}", u64::MAX).as_bytes())),
                json!(BASE64URL_NOPAD.encode(b"at:-1")),
                json!(BASE64URL_NOPAD.encode(Uuid::new_v4().as_bytes())),
                json!(""),
                nul,
            ],
            "String" => vec![
                json!(""),
                json!(" "),
                nul,
                json!("x".repeat(10_001)),
                json!("\u{1F980}".repeat(9_999)),
            ],
            _ => vec![json!("nope"), json!(0), nul],
        };
        // Text of 900 KB wherever text is read, ids and JSON included.
        if self.heavy && !matches!(named, "Int" | "Float" | "Boolean") {
            probes.push(self.huge.clone());
        }
        probes
    }
}

/// What is wrong with one answer, if anything: a status the README does not document, a body
/// that is not a GraphQL answer, an error without a documented code, or INTERNAL.
fn undocumented(answer: &Answer, codes: &HashSet<String>) -> Option<String> {
    if !STATUSES.contains(&answer.status) {
        return Some(format!("status {}", answer.status));
    }
    let body = match &answer.body {
        Ok(body) => body,
        Err(_) if answer.status == 413 => return None,
        Err(text) => {
            return Some(format!(
                "status {} with a body that is not JSON: {text}",
                answer.status
            ));
        }
    };
    if body.get("data").is_none() && body.get("errors").is_none() {
        return Some(format!("not a GraphQL answer: {body}"));
    }
    let bad: Vec<String> = answer
        .codes()
        .into_iter()
        .filter(|c| c == "INTERNAL" || !codes.contains(c))
        .collect();
    (!bad.is_empty()).then(|| format!("codes {bad:?}"))
}

#[tokio::test]
async fn hostile_arguments_are_answered_with_documented_codes() {
    let started = Instant::now();
    let app = spawn_app_with(GENEROUS).await;
    let codes = documented_codes();
    let admin = app.admin_token().await;
    let (dev, instance) = app
        .developer_with_instance("walker@example.com", "pro")
        .await;
    let node = app.node(&dev.license_key, "fp-walk").await;
    let pools = ok(
        &app,
        "{ databasePools { nodes { id } } }",
        json!({}),
        Some(&admin),
    )
    .await;
    let created = ok(
        &app,
        "mutation($i: UUID!) { createInstanceToken(instanceId: $i, name: \"walk\") { token instanceToken { id } } }",
        json!({ "i": instance }),
        Some(&dev.token),
    )
    .await;
    let instance_token = text(&created["createInstanceToken"]["token"]);
    let seat = ok(
        &app,
        "mutation($l: UUID!) { assignSeat(licenseId: $l, userEmail: \"crew@example.com\") { id } }",
        json!({ "l": dev.license_id }),
        Some(&dev.token),
    )
    .await;
    let assignment = text(&seat["assignSeat"]["id"]);
    let ids: Vec<(&'static str, String)> = vec![
        (
            "token",
            text(&created["createInstanceToken"]["instanceToken"]["id"]),
        ),
        ("node", node),
        ("assignment", assignment.clone()),
        ("seat", assignment),
        ("pool", text(&pools["databasePools"]["nodes"][0]["id"])),
        ("license", dev.license_id.to_string()),
        ("instance", instance),
        ("developer", dev.id.to_string()),
    ];
    let huge = json!("h".repeat(900_000));
    let walk = |who: &'static str, token: Option<String>, heavy: bool| HostileWalk {
        app: &app,
        who,
        token,
        heavy,
        ids: &ids,
        license_key: &dev.license_key,
        huge: &huge,
        codes: &codes,
    };
    // Text and lists past their limits are refused before any resolver runs, alike for every
    // caller: the heaviest of them (900 KB, 10,000 items) go once, as the admin, who would
    // reach furthest past a missing limit.
    let walks = [
        walk("anonymous", None, false),
        walk("a developer", Some(dev.token.clone()), false),
        walk("the admin", Some(admin.clone()), true),
        walk("an instance token", Some(instance_token), false),
    ];
    let mut findings = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for (walk_findings, walk_tally) in join_all(walks.iter().map(HostileWalk::run)).await {
        findings.extend(walk_findings);
        for (key, n) in walk_tally {
            *tally.entry(key).or_default() += n;
        }
    }
    eprintln!("hostile: answers by status and codes {tally:#?}");

    // The server is still there.
    let health = app.get("/healthz").send().await.expect("healthz answered");
    assert_eq!(health.status(), 200);
    let plans = app.graphql("{ plans { code } }", json!({}), None).await;
    assert!(
        plans["data"]["plans"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{plans}"
    );
    let me = app
        .graphql("{ me { id } }", json!({}), Some(&dev.token))
        .await;
    assert_eq!(me["data"]["me"]["id"], json!(dev.id), "{me}");
    eprintln!("hostile: total {:?}", started.elapsed());
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n\n")
    );
}

/// One caller's walk of every root field with hostile arguments.
struct HostileWalk<'a> {
    app: &'a TestApp,
    who: &'static str,
    token: Option<String>,
    /// Whether to send the heaviest probes too.
    heavy: bool,
    ids: &'a [(&'static str, String)],
    license_key: &'a str,
    huge: &'a Value,
    codes: &'a HashSet<String>,
}

impl HostileWalk<'_> {
    /// Its findings, and how many answers came back with each status and set of codes.
    async fn run(&self) -> (Vec<String>, BTreeMap<String, usize>) {
        let (app, who, token) = (self.app, self.who, self.token.as_deref());
        let began = Instant::now();
        let schema = Schema::fetch(app, token).await;
        let mut findings = Vec::new();
        let mut tally: BTreeMap<String, usize> = BTreeMap::new();
        let (mut sent, mut fields) = (0, 0);
        for op in Operation::ALL {
            for field in schema.root_fields(op) {
                if ENDS_THE_CALLERS_SESSION.contains(&field.name.as_str()) {
                    continue;
                }
                fields += 1;
                let filler = Hostile {
                    field: field.name.clone(),
                    ids: self.ids,
                    license_key: self.license_key,
                    huge: self.huge,
                    heavy: self.heavy,
                };
                let Some(mut requests) = schema.requests(&field, &filler) else {
                    findings.push(format!(
                        "{who}: {} has an argument the walk cannot fill",
                        field.name
                    ));
                    continue;
                };
                if op == Operation::Mutation {
                    // Only the probes: the arguments as sampled would change the fixtures
                    // (delete the instance, revoke the key) for the fields after.
                    requests.remove(0);
                }
                let depth = match (op, requests.first()) {
                    (Operation::Query, Some(args)) => {
                        fitting_depth(app, token, args, HOSTILE_DEPTH, |depth| {
                            schema.document(op, &field, args, depth, &filler)
                        })
                        .await
                    }
                    _ => HOSTILE_DEPTH,
                };
                sent += requests.len();
                if op == Operation::Subscription {
                    findings.extend(
                        hostile_subscriptions(
                            app, &schema, &field, requests, depth, token, &filler, self.codes, who,
                        )
                        .await,
                    );
                    continue;
                }
                for args in requests {
                    let query = schema.document(op, &field, &args, depth, &filler);
                    let variables = Value::Object(args);
                    let answer = match send(app, &query, &variables, token).await {
                        Ok(answer) => answer,
                        Err(err) => {
                            findings.push(format!(
                                "{who}: no answer: {query}\n  variables {}\n  {err}",
                                brief(&variables)
                            ));
                            continue;
                        }
                    };
                    let mut kinds = answer.codes();
                    kinds.sort_unstable();
                    kinds.dedup();
                    *tally
                        .entry(format!("{} {}", answer.status, kinds.join(",")))
                        .or_default() += 1;
                    if let Some(wrong) = undocumented(&answer, self.codes) {
                        findings.push(format!(
                            "{who}: {wrong}: {query}\n  variables {}\n  answer {}",
                            brief(&variables),
                            answer
                                .json()
                                .to_string()
                                .chars()
                                .take(600)
                                .collect::<String>()
                        ));
                    }
                }
            }
        }
        // A body past HTTP_BODY_LIMIT_BYTES is refused whole, and the connection answered.
        let oversize = json!({ "s": "o".repeat(1_100_000) });
        match send(
            app,
            "query($s: String!) { plan(code: $s) { code } }",
            &oversize,
            token,
        )
        .await
        {
            Ok(answer) if answer.status == 413 => sent += 1,
            Ok(answer) => findings.push(format!(
                "{who}: a body past the limit answered {}: {:?}",
                answer.status, answer.body
            )),
            Err(err) => findings.push(format!(
                "{who}: a body past the limit was not answered: {err}"
            )),
        }
        eprintln!(
            "hostile, {who}: {fields} root fields, {sent} requests in {:?}",
            began.elapsed()
        );
        (findings, tally)
    }
}

/// Each request to one subscription root field over its own operation on one socket: the first
/// message for it (an error, or data) must carry documented codes only; one that says nothing
/// within a moment is running, and is completed.
#[allow(clippy::too_many_arguments)]
async fn hostile_subscriptions(
    app: &TestApp,
    schema: &Schema,
    field: &Field,
    requests: Vec<Map<String, Value>>,
    depth: usize,
    token: Option<&str>,
    filler: &dyn Filler,
    codes: &HashSet<String>,
    who: &str,
) -> Vec<String> {
    let mut findings = Vec::new();
    let mut socket = initialised_ws(&app.ws_url(), token).await;
    for (n, args) in requests.into_iter().enumerate() {
        let id = format!("{}-{n}", field.name);
        let query = schema.document(Operation::Subscription, field, &args, depth, filler);
        let variables = Value::Object(args);
        send_json(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
        )
        .await;
        let first = tokio::time::timeout(Duration::from_millis(300), next_json(&mut socket)).await;
        match first {
            Ok(None) => {
                findings.push(format!(
                    "{who}: the socket closed on {query}\n  variables {}",
                    brief(&variables)
                ));
                socket = initialised_ws(&app.ws_url(), token).await;
            }
            Ok(Some(message)) => {
                let payload = &message["payload"];
                let errors = if payload.is_array() {
                    json!({ "errors": payload })
                } else {
                    payload.clone()
                };
                let bad: Vec<String> = error_codes(&errors)
                    .into_iter()
                    .filter(|c| c == "INTERNAL" || !codes.contains(c))
                    .collect();
                if !bad.is_empty() {
                    findings.push(format!(
                        "{who}: codes {bad:?} on {query}\n  variables {}\n  message {message}",
                        brief(&variables)
                    ));
                }
            }
            Err(_) => send_json(&mut socket, json!({ "id": id, "type": "complete" })).await,
        }
    }
    findings
}
