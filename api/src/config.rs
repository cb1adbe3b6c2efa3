//! Typed configuration, loaded once from environment variables (and an optional `.env`).
//!
//! `VARIABLES` is the single list of settings: `.env.example` and the README table are checked
//! against it by a test, so documentation cannot drift from code.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// (name, default, what it does). An empty default means "unset".
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "APP_ENV",
        "development",
        "`development` or `production`; production refuses default secrets",
    ),
    ("HOST", "127.0.0.1", "interface to listen on"),
    ("PORT", "8080", "port to listen on (0 picks a free one)"),
    (
        "DATABASE_URL",
        "sqlite://data/gateway.db?mode=rwc",
        "`sqlite://...` or `postgres://...`",
    ),
    (
        "DATABASE_MAX_CONNECTIONS",
        "8",
        "connection pool size; about twice the cores is fastest",
    ),
    (
        "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        "5",
        "longest a request waits for a database connection before it is answered SERVICE_UNAVAILABLE (503); also bounds `/readyz`",
    ),
    (
        "AUTO_MIGRATE",
        "true",
        "apply pending migrations and seed plans when serving",
    ),
    (
        "JWT_SECRET",
        DEV_JWT_SECRET,
        "HMAC key that signs access tokens (at least 32 bytes)",
    ),
    ("JWT_KEY_ID", "primary", "`kid` stamped on new tokens"),
    (
        "JWT_PREVIOUS_KEYS",
        "",
        "older keys still accepted while rotating: `kid=secret,kid=secret`",
    ),
    (
        "JWT_ISSUER",
        "licensing-gateway",
        "`iss` claim issued and required",
    ),
    (
        "JWT_AUDIENCE",
        "licensing-api",
        "`aud` claim issued and required",
    ),
    (
        "JWT_TTL_SECONDS",
        "900",
        "access token lifetime; a refresh token renews it",
    ),
    (
        "REFRESH_TTL_SECONDS",
        "2592000",
        "how long a sign-in lasts without being refreshed (each refresh token works once)",
    ),
    (
        "LICENSE_KEY_SECRET",
        DEV_LICENSE_KEY_SECRET,
        "HMAC key under which license keys are stored",
    ),
    (
        "LICENSE_SIGNING_KEY",
        "",
        "Ed25519 key that signs license files and nonce-bound validation answers: base64 of its 32-byte seed; unset: derived from `LICENSE_KEY_SECRET`, so gateways sharing that secret sign alike",
    ),
    (
        "LICENSE_SIGNING_KEYS_RETIRED",
        "",
        "public keys (base64, comma-separated) of earlier signing keys, still published by `licenseSigningKey(keyId:)` so files they signed keep verifying",
    ),
    (
        "LICENSE_EXPIRING_DAYS",
        "7",
        "a license expiring within this many days is flagged `expiring`",
    ),
    (
        "NODE_RESURRECTION_SECONDS",
        "3600",
        "a dead runtime node that checks in within this long after its deadline comes back",
    ),
    (
        "VALIDATION_FAILURES_PER_MINUTE",
        "30",
        "wrong license keys allowed per client IP before its wrong keys answer RATE_LIMITED (a right key is always answered)",
    ),
    (
        "VALIDATION_BATCH_MAX",
        "64",
        "on PostgreSQL, most concurrent key validations answered by one statement (1: one each)",
    ),
    (
        "VALIDATION_LANES",
        "2",
        "on PostgreSQL, how many batched validation statements may run at once, each on a connection of its own",
    ),
    (
        "ENTITLEMENTS_CACHE_TTL_SECONDS",
        "30",
        "how long a process may keep a developer's entitlements; changes invalidate them at once",
    ),
    (
        "GRAPHQL_MAX_DEPTH",
        "12",
        "deepest selection allowed (QUERY_TOO_DEEP)",
    ),
    (
        "GRAPHQL_MAX_COMPLEXITY",
        "1000",
        "most fields in one operation (QUERY_TOO_COMPLEX)",
    ),
    (
        "GRAPHQL_MAX_RECURSION",
        "32",
        "parser nesting limit (QUERY_TOO_RECURSIVE)",
    ),
    (
        "GRAPHQL_MAX_DIRECTIVES",
        "8",
        "directives on one field (TOO_MANY_DIRECTIVES)",
    ),
    (
        "GRAPHQL_MAX_PAGE_SIZE",
        "100",
        "largest `first` on any connection",
    ),
    (
        "GRAPHQL_EXACT_COUNT_LIMIT",
        "10000",
        "`totalCount` counts this many rows exactly; past it, PostgreSQL's estimate (`totalCountIsEstimate`)",
    ),
    (
        "GRAPHQL_INTROSPECTION",
        "true",
        "serve the schema to introspection queries",
    ),
    (
        "DATALOADER_DELAY_MICROS",
        "1000",
        "how long a dataloader gathers keys before its one query",
    ),
    (
        "WS_INIT_TIMEOUT_SECONDS",
        "10",
        "a WebSocket that sends no connection_init this long is closed (4408)",
    ),
    (
        "HTTP_BODY_LIMIT_BYTES",
        "1048576",
        "largest request body (413 beyond), and largest WebSocket message",
    ),
    (
        "WS_MAX_OPERATIONS",
        "25",
        "most operations running at once on one WebSocket",
    ),
    (
        "WS_SUBSCRIBER_BUFFER",
        "1024",
        "events a subscriber may fall behind live delivery before its socket is closed (1013: resume from your last cursor); at least 64",
    ),
    (
        "WS_SEND_TIMEOUT_SECONDS",
        "30",
        "a WebSocket that accepts nothing sent to it this long is dropped (its client has stopped reading)",
    ),
    (
        "GRAPHQL_MAX_BATCH",
        "1",
        "most operations in one HTTP request (1: batching off)",
    ),
    (
        "GRAPHQL_MAX_TOKENS",
        "5000",
        "most lexical tokens in one document (QUERY_TOO_LARGE)",
    ),
    (
        "GRAPHQL_MAX_ALIASES",
        "10",
        "most times one field may be asked for in one selection, aliases included (QUERY_TOO_COMPLEX); account doors such as `login` once per document",
    ),
    (
        "GRAPHQL_MAX_STRING_CHARS",
        "10000",
        "longest text in any argument or variable (VALIDATION); text may never contain NUL",
    ),
    (
        "GRAPHQL_MAX_LIST_LENGTH",
        "1000",
        "longest list in any argument or variable (VALIDATION)",
    ),
    (
        "AUTH_ATTEMPTS_PER_MINUTE",
        "10",
        "attempts at login, signup and the other account doors allowed per client IP and per email each minute (RATE_LIMITED beyond)",
    ),
    (
        "API_TOKEN_READS_PER_MINUTE",
        "600",
        "queries and subscriptions each API token may send a minute, across every gateway (RATE_LIMITED beyond, with `RateLimit-*` headers)",
    ),
    (
        "API_TOKEN_WRITES_PER_MINUTE",
        "120",
        "mutations each API token may send a minute, across every gateway (RATE_LIMITED beyond)",
    ),
    (
        "ANONYMOUS_READS_PER_MINUTE",
        "300",
        "queries and subscriptions a client address may send a minute without a credential, across every gateway (RATE_LIMITED beyond, with `RateLimit-*` headers); runtime nodes' license-key calls (`validateLicense`, `activateRuntimeNode`, `checkIn`) are not counted",
    ),
    (
        "ANONYMOUS_WRITES_PER_MINUTE",
        "60",
        "mutations a client address may send a minute without a credential, across every gateway (RATE_LIMITED beyond)",
    ),
    (
        "PASSWORD_HASH_CONCURRENCY",
        "2",
        "most password hashes computed at once; the rest wait their turn",
    ),
    (
        "TRUSTED_PROXIES",
        "",
        "proxies (IPs or CIDR ranges, comma-separated) whose `X-Forwarded-For` names the client; unset: the connecting peer is the client",
    ),
    (
        "PUBLIC_URL",
        "http://127.0.0.1:8080",
        "the gateway's address as people reach it; links in mail point under it",
    ),
    (
        "SMTP_URL",
        "",
        "where mail goes: `smtp://user:pass@host:port` (`?tls=required` for STARTTLS) or `smtps://user:pass@host:port`; unset: mail is logged without its links' tokens and kept for admins",
    ),
    (
        "MAIL_FROM",
        DEFAULT_MAIL_FROM,
        "sender of every mail: an address, or `Name <address>`",
    ),
    (
        "MAIL_POLL_SECONDS",
        "5",
        "how often a gateway looks for mail due to go out (and at once when it queues one); 0: this gateway delivers none",
    ),
    (
        "MAIL_MAX_ATTEMPTS",
        "8",
        "delivery attempts before a mail is given up as `failed`",
    ),
    (
        "MAIL_RETRY_SECONDS",
        "60",
        "wait after a mail's first failed attempt, doubling after each one up to an hour, with jitter",
    ),
    (
        "SHUTDOWN_DRAIN_SECONDS",
        "10",
        "on SIGTERM: readiness answers 503, no new connection is accepted, requests in flight finish and sockets close with 1001; the process leaves after this many seconds at most",
    ),
    (
        "STRIPE_WEBHOOK_SECRETS",
        "",
        "signing secrets of the payment provider's webhook endpoint (`whsec_...`, comma-separated: several while one is rotated); unset: `/webhooks/stripe` refuses everything",
    ),
    (
        "STRIPE_SECRET_KEY",
        "",
        "the payment provider's secret API key (`sk_live_...` or `sk_test_...`): checkout, billing portal, cancellation and plan changes go through it; unset: the sandbox completes them at once inside the gateway (refused in production)",
    ),
    (
        "STRIPE_API_URL",
        "https://api.stripe.com",
        "where the payment provider's API answers",
    ),
    (
        "BILLING_RETURN_URL",
        "",
        "where checkout and the billing portal send the customer back (`?checkout=success|cancelled` is added); unset: `PUBLIC_URL`",
    ),
    (
        "STRIPE_WEBHOOK_TOLERANCE_SECONDS",
        "300",
        "how far a webhook's signed timestamp may be from now before it is refused as a replay",
    ),
    (
        "SCHEDULER_TICK_SECONDS",
        "30",
        "how often a gateway looks for scheduled jobs that are due (trials, grace periods and terms ending, retention); gateways sharing a database take turns; 0: this gateway runs none",
    ),
    (
        "RETENTION_INSTANCE_LOG_DAYS",
        "90",
        "instance logs older than this are deleted by the scheduler",
    ),
    (
        "RETENTION_USAGE_EVENT_DAYS",
        "730",
        "raw usage events received longer ago than this are deleted by the scheduler (roll-ups are kept)",
    ),
    (
        "RETENTION_WEBHOOK_DAYS",
        "30",
        "handled payment webhooks received, and webhooks sent (delivered or given up), longer ago than this are deleted by the scheduler (payment dead letters are kept)",
    ),
    (
        "EVENT_LOG_RETENTION_DAYS",
        "7",
        "published events older than this are deleted from the event log by the scheduler; a subscription cannot resume from before them",
    ),
    (
        "WEBHOOK_POLL_MILLIS",
        "5000",
        "how often a gateway looks for webhook deliveries that are due (and at once when it commits one); 0: this gateway delivers none",
    ),
    (
        "WEBHOOK_RETRY_BASE_SECONDS",
        "30",
        "longest wait after a delivery's first failed attempt, doubling after each one up to 12 hours; each wait is drawn at random below it (full jitter)",
    ),
    (
        "WEBHOOK_RETRY_FOR_SECONDS",
        "259200",
        "how long a delivery is retried (three days) before it is given up as `dead`",
    ),
    (
        "WEBHOOK_DISABLE_AFTER_SECONDS",
        "432000",
        "an endpoint whose deliveries have failed without a success for this long (five days) is disabled and its owner mailed",
    ),
    (
        "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "false",
        "let endpoints resolve to loopback, private, link-local and other internal addresses (refused otherwise, at registration and at each delivery)",
    ),
    (
        "TEST_CLOCK",
        "false",
        "allow admins to move this gateway's clock forward (`advanceTestClock`), for sandboxes; refused in production",
    ),
    ("RUST_LOG", "info,sqlx=warn", "log filter"),
];

const DEV_JWT_SECRET: &str = "dev-only-jwt-secret-do-not-use-in-production";
const DEV_LICENSE_KEY_SECRET: &str = "dev-only-license-key-secret-do-not-use-in-production";
const DEFAULT_MAIL_FROM: &str = "Licensing gateway <no-reply@localhost>";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub env: AppEnv,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub licensing: LicensingConfig,
    pub mail: MailConfig,
    pub scheduler: SchedulerConfig,
    pub retention: RetentionConfig,
    pub billing: BillingConfig,
    pub webhooks: WebhooksConfig,
}

#[derive(Clone, Debug)]
pub struct WebhooksConfig {
    /// How often the delivery worker looks for due deliveries; 0: this process delivers none.
    pub poll_millis: u64,
    /// The longest wait after a first failed attempt; doubled after each further one.
    pub retry_base_seconds: u64,
    /// How long after it is queued a delivery is still retried.
    pub retry_for_seconds: u64,
    /// How long an endpoint may fail without a success before it is disabled.
    pub disable_after_seconds: u64,
    /// Whether endpoints may resolve to internal addresses.
    pub allow_private_targets: bool,
}

impl WebhooksConfig {
    /// Until when a delivery queued at `now` is retried.
    pub fn retry_until(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        chrono::Duration::try_seconds(i64::try_from(self.retry_for_seconds).unwrap_or(i64::MAX))
            .and_then(|window| now.checked_add_signed(window))
            .unwrap_or(now)
    }
}

#[derive(Clone, Debug)]
pub struct BillingConfig {
    /// Any of these may sign a webhook; none: every webhook is refused.
    pub stripe_webhook_secrets: Vec<SecretString>,
    pub webhook_tolerance_seconds: i64,
    /// The provider's API key; none: the sandbox (outside production).
    pub stripe_secret_key: Option<SecretString>,
    pub stripe_api_url: String,
    /// Where the customer comes back to after checkout or the portal.
    pub return_url: String,
}

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Seconds between looks for due jobs; 0: this gateway runs none.
    pub tick_seconds: u64,
    /// Whether admins may move this gateway's clock forward.
    pub test_clock: bool,
}

#[derive(Clone, Debug)]
pub struct RetentionConfig {
    pub instance_log_days: i64,
    pub usage_event_days: i64,
    pub webhook_days: i64,
    pub event_log_days: i64,
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    /// Links in mail point under this address (no trailing slash).
    pub public_url: String,
    /// The SMTP server and its credentials; none: mail is logged, not sent.
    pub smtp_url: Option<SecretString>,
    /// The sender, as written in the setting (checked when the mailer is built).
    pub from: String,
    /// How often the delivery worker looks for due mail; 0: this process delivers none.
    pub poll_seconds: u64,
    /// Attempts before a mail is given up.
    pub max_attempts: u32,
    /// The wait after a first failure, doubling after each further one.
    pub retry_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct LicensingConfig {
    /// The seed (base64) of the Ed25519 key that signs license files; none: derived from
    /// `LICENSE_KEY_SECRET` (`license_files::signing`).
    pub signing_key: Option<SecretString>,
    /// Earlier signing keys' public keys (base64), still published for verification.
    pub retired_signing_keys: Vec<String>,
    pub expiring_days: i64,
    pub node_resurrection_seconds: i64,
    pub validation_failures_per_minute: u32,
    pub validation_batch_max: usize,
    pub validation_lanes: usize,
    pub entitlements_cache_ttl_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The most a shutdown waits for requests and sockets to finish.
    pub shutdown_drain_seconds: u64,
}

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// May carry a password, hence secret.
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection (or a new one) before giving up.
    pub acquire_timeout_seconds: u64,
    pub auto_migrate: bool,
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub jwt_secret: SecretString,
    pub jwt_key_id: String,
    pub jwt_previous_keys: Vec<(String, SecretString)>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_ttl_seconds: i64,
    pub license_key_secret: SecretString,
    pub refresh_ttl_seconds: i64,
    pub attempts_per_minute: u32,
    pub api_token_reads_per_minute: u32,
    pub api_token_writes_per_minute: u32,
    pub anonymous_reads_per_minute: u32,
    pub anonymous_writes_per_minute: u32,
    pub password_hash_concurrency: usize,
}

#[derive(Clone, Debug)]
pub struct LimitsConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_recursion: usize,
    pub max_directives: usize,
    pub max_page_size: usize,
    pub exact_count_limit: u64,
    pub introspection: bool,
    pub body_limit_bytes: usize,
    pub dataloader_delay_micros: u64,
    pub ws_init_timeout_seconds: u64,
    pub ws_max_operations: usize,
    pub ws_subscriber_buffer: usize,
    pub ws_send_timeout_seconds: u64,
    pub max_batch: usize,
    pub max_tokens: usize,
    pub max_aliases: usize,
    pub max_string_chars: usize,
    pub max_list_length: usize,
}

/// A setting that could not be read.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment, after loading `.env` if one is present.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds a config from any source of variables; unset ones take their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| -> String {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default_of(name).to_owned())
        };
        let env = match get("APP_ENV").as_str() {
            "development" => AppEnv::Development,
            "production" => AppEnv::Production,
            other => return Err(ConfigError(format!("APP_ENV: unknown value `{other}`"))),
        };
        let config = Config {
            env,
            server: ServerConfig {
                host: get("HOST"),
                port: parse(&get, "PORT")?,
                trusted_proxies: parse_networks(&get("TRUSTED_PROXIES"))?,
                shutdown_drain_seconds: parse(&get, "SHUTDOWN_DRAIN_SECONDS")?,
            },
            database: DatabaseConfig {
                url: SecretString::from(get("DATABASE_URL")),
                max_connections: parse(&get, "DATABASE_MAX_CONNECTIONS")?,
                acquire_timeout_seconds: parse(&get, "DATABASE_ACQUIRE_TIMEOUT_SECONDS")?,
                auto_migrate: parse(&get, "AUTO_MIGRATE")?,
            },
            auth: AuthConfig {
                jwt_secret: SecretString::from(get("JWT_SECRET")),
                jwt_key_id: get("JWT_KEY_ID"),
                jwt_previous_keys: parse_key_list(&get("JWT_PREVIOUS_KEYS"))?,
                jwt_issuer: get("JWT_ISSUER"),
                jwt_audience: get("JWT_AUDIENCE"),
                jwt_ttl_seconds: parse(&get, "JWT_TTL_SECONDS")?,
                license_key_secret: SecretString::from(get("LICENSE_KEY_SECRET")),
                refresh_ttl_seconds: parse(&get, "REFRESH_TTL_SECONDS")?,
                attempts_per_minute: parse(&get, "AUTH_ATTEMPTS_PER_MINUTE")?,
                api_token_reads_per_minute: parse(&get, "API_TOKEN_READS_PER_MINUTE")?,
                api_token_writes_per_minute: parse(&get, "API_TOKEN_WRITES_PER_MINUTE")?,
                anonymous_reads_per_minute: parse(&get, "ANONYMOUS_READS_PER_MINUTE")?,
                anonymous_writes_per_minute: parse(&get, "ANONYMOUS_WRITES_PER_MINUTE")?,
                password_hash_concurrency: parse(&get, "PASSWORD_HASH_CONCURRENCY")?,
            },
            licensing: LicensingConfig {
                signing_key: Some(get("LICENSE_SIGNING_KEY").trim().to_owned())
                    .filter(|seed| !seed.is_empty())
                    .map(SecretString::from),
                retired_signing_keys: get("LICENSE_SIGNING_KEYS_RETIRED")
                    .split(',')
                    .map(str::trim)
                    .filter(|key| !key.is_empty())
                    .map(str::to_owned)
                    .collect(),
                expiring_days: parse(&get, "LICENSE_EXPIRING_DAYS")?,
                node_resurrection_seconds: parse(&get, "NODE_RESURRECTION_SECONDS")?,
                validation_failures_per_minute: parse(&get, "VALIDATION_FAILURES_PER_MINUTE")?,
                validation_batch_max: parse(&get, "VALIDATION_BATCH_MAX")?,
                validation_lanes: parse(&get, "VALIDATION_LANES")?,
                entitlements_cache_ttl_seconds: parse(&get, "ENTITLEMENTS_CACHE_TTL_SECONDS")?,
            },
            limits: LimitsConfig {
                max_depth: parse(&get, "GRAPHQL_MAX_DEPTH")?,
                max_complexity: parse(&get, "GRAPHQL_MAX_COMPLEXITY")?,
                max_recursion: parse(&get, "GRAPHQL_MAX_RECURSION")?,
                max_directives: parse(&get, "GRAPHQL_MAX_DIRECTIVES")?,
                max_page_size: parse(&get, "GRAPHQL_MAX_PAGE_SIZE")?,
                exact_count_limit: parse(&get, "GRAPHQL_EXACT_COUNT_LIMIT")?,
                introspection: parse(&get, "GRAPHQL_INTROSPECTION")?,
                body_limit_bytes: parse(&get, "HTTP_BODY_LIMIT_BYTES")?,
                ws_init_timeout_seconds: parse(&get, "WS_INIT_TIMEOUT_SECONDS")?,
                dataloader_delay_micros: parse(&get, "DATALOADER_DELAY_MICROS")?,
                ws_max_operations: parse(&get, "WS_MAX_OPERATIONS")?,
                ws_subscriber_buffer: parse(&get, "WS_SUBSCRIBER_BUFFER")?,
                ws_send_timeout_seconds: parse(&get, "WS_SEND_TIMEOUT_SECONDS")?,
                max_batch: parse(&get, "GRAPHQL_MAX_BATCH")?,
                max_tokens: parse(&get, "GRAPHQL_MAX_TOKENS")?,
                max_aliases: parse(&get, "GRAPHQL_MAX_ALIASES")?,
                max_string_chars: parse(&get, "GRAPHQL_MAX_STRING_CHARS")?,
                max_list_length: parse(&get, "GRAPHQL_MAX_LIST_LENGTH")?,
            },
            mail: MailConfig {
                public_url: get("PUBLIC_URL").trim().trim_end_matches('/').to_owned(),
                smtp_url: Some(get("SMTP_URL").trim().to_owned())
                    .filter(|url| !url.is_empty())
                    .map(SecretString::from),
                from: get("MAIL_FROM"),
                poll_seconds: parse(&get, "MAIL_POLL_SECONDS")?,
                max_attempts: parse(&get, "MAIL_MAX_ATTEMPTS")?,
                retry_seconds: parse(&get, "MAIL_RETRY_SECONDS")?,
            },
            scheduler: SchedulerConfig {
                tick_seconds: parse(&get, "SCHEDULER_TICK_SECONDS")?,
                test_clock: parse(&get, "TEST_CLOCK")?,
            },
            retention: RetentionConfig {
                instance_log_days: parse(&get, "RETENTION_INSTANCE_LOG_DAYS")?,
                usage_event_days: parse(&get, "RETENTION_USAGE_EVENT_DAYS")?,
                webhook_days: parse(&get, "RETENTION_WEBHOOK_DAYS")?,
                event_log_days: parse(&get, "EVENT_LOG_RETENTION_DAYS")?,
            },
            billing: BillingConfig {
                stripe_webhook_secrets: get("STRIPE_WEBHOOK_SECRETS")
                    .split(',')
                    .map(str::trim)
                    .filter(|secret| !secret.is_empty())
                    .map(|secret| SecretString::from(secret.to_owned()))
                    .collect(),
                webhook_tolerance_seconds: parse(&get, "STRIPE_WEBHOOK_TOLERANCE_SECONDS")?,
                stripe_secret_key: Some(get("STRIPE_SECRET_KEY").trim().to_owned())
                    .filter(|key| !key.is_empty())
                    .map(SecretString::from),
                stripe_api_url: get("STRIPE_API_URL")
                    .trim()
                    .trim_end_matches('/')
                    .to_owned(),
                return_url: {
                    let url = get("BILLING_RETURN_URL").trim().to_owned();
                    if url.is_empty() {
                        get("PUBLIC_URL").trim().trim_end_matches('/').to_owned()
                    } else {
                        url
                    }
                },
            },
            webhooks: WebhooksConfig {
                poll_millis: parse(&get, "WEBHOOK_POLL_MILLIS")?,
                retry_base_seconds: parse(&get, "WEBHOOK_RETRY_BASE_SECONDS")?,
                retry_for_seconds: parse(&get, "WEBHOOK_RETRY_FOR_SECONDS")?,
                disable_after_seconds: parse(&get, "WEBHOOK_DISABLE_AFTER_SECONDS")?,
                allow_private_targets: parse(&get, "WEBHOOK_ALLOW_PRIVATE_TARGETS")?,
            },
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let secrets = [
            ("JWT_SECRET", &self.auth.jwt_secret, DEV_JWT_SECRET),
            (
                "LICENSE_KEY_SECRET",
                &self.auth.license_key_secret,
                DEV_LICENSE_KEY_SECRET,
            ),
        ];
        for (name, secret, default) in secrets {
            let value = secret.expose_secret();
            if value.len() < 32 {
                return Err(ConfigError(format!("{name} must be at least 32 bytes")));
            }
            if self.env == AppEnv::Production && value == default {
                return Err(ConfigError(format!(
                    "{name} is the development default; set a real secret in production"
                )));
            }
        }
        // Read here so that a wrong key stops the start, and the message never echoes it.
        if let Some(seed) = &self.licensing.signing_key
            && decoded_len(seed.expose_secret()) != Some(32)
        {
            return Err(ConfigError(
                "LICENSE_SIGNING_KEY must be base64 of a 32-byte Ed25519 seed".into(),
            ));
        }
        if self
            .licensing
            .retired_signing_keys
            .iter()
            .any(|key| decoded_len(key) != Some(32))
        {
            return Err(ConfigError(
                "LICENSE_SIGNING_KEYS_RETIRED: each must be base64 of a 32-byte Ed25519 public key"
                    .into(),
            ));
        }
        if self.database.acquire_timeout_seconds == 0 {
            return Err(ConfigError(
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS must be positive".into(),
            ));
        }
        if self.auth.jwt_ttl_seconds <= 0 {
            return Err(ConfigError("JWT_TTL_SECONDS must be positive".into()));
        }
        let public_url = &self.mail.public_url;
        let scheme_ok = ["http://", "https://"]
            .iter()
            .any(|scheme| public_url.starts_with(scheme) && public_url.len() > scheme.len());
        if !scheme_ok || public_url.contains(['?', '#']) || public_url.contains(char::is_whitespace)
        {
            return Err(ConfigError(
                "PUBLIC_URL: expected http://host[:port][/path] or https://...".into(),
            ));
        }
        if self.mail.max_attempts == 0 {
            return Err(ConfigError("MAIL_MAX_ATTEMPTS must be positive".into()));
        }
        if self.mail.retry_seconds == 0 {
            return Err(ConfigError("MAIL_RETRY_SECONDS must be positive".into()));
        }
        if self.env == AppEnv::Production && self.scheduler.test_clock {
            return Err(ConfigError(
                "TEST_CLOCK is for sandboxes; production refuses it".into(),
            ));
        }
        let billing = &self.billing;
        for (name, url) in [
            ("STRIPE_API_URL", &billing.stripe_api_url),
            ("BILLING_RETURN_URL", &billing.return_url),
        ] {
            let scheme_ok = ["http://", "https://"]
                .iter()
                .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len());
            if !scheme_ok || url.contains(char::is_whitespace) || url.contains('#') {
                return Err(ConfigError(format!(
                    "{name}: expected http://host[:port][/path] or https://..."
                )));
            }
        }
        if !(1..=86_400).contains(&self.billing.webhook_tolerance_seconds) {
            return Err(ConfigError(
                "STRIPE_WEBHOOK_TOLERANCE_SECONDS must be 1 to 86400".into(),
            ));
        }
        if !(64..=1_000_000).contains(&self.limits.ws_subscriber_buffer) {
            return Err(ConfigError(
                "WS_SUBSCRIBER_BUFFER must be 64 to 1000000".into(),
            ));
        }
        if self.limits.ws_send_timeout_seconds == 0 {
            return Err(ConfigError(
                "WS_SEND_TIMEOUT_SECONDS must be positive".into(),
            ));
        }
        let webhooks = &self.webhooks;
        if webhooks.retry_base_seconds == 0 {
            return Err(ConfigError(
                "WEBHOOK_RETRY_BASE_SECONDS must be positive".into(),
            ));
        }
        // Ten years at most: every time derived from these stays far inside the calendar.
        for (name, seconds) in [
            ("WEBHOOK_RETRY_FOR_SECONDS", webhooks.retry_for_seconds),
            (
                "WEBHOOK_DISABLE_AFTER_SECONDS",
                webhooks.disable_after_seconds,
            ),
            ("WEBHOOK_RETRY_BASE_SECONDS", webhooks.retry_base_seconds),
        ] {
            if !(1..=315_360_000).contains(&seconds) {
                return Err(ConfigError(format!("{name} must be 1 to 315360000")));
            }
        }
        let retention = &self.retention;
        if retention.instance_log_days < 1
            || retention.usage_event_days < 1
            || retention.webhook_days < 1
            || retention.event_log_days < 1
        {
            return Err(ConfigError(
                "retention periods must be at least a day".into(),
            ));
        }
        Ok(())
    }

    /// `sqlite` or `postgres`, from the URL scheme.
    pub fn backend_name(&self) -> &'static str {
        if self.database.url.expose_secret().starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, default, _)| *default)
        .unwrap_or("")
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> String,
    name: &str,
) -> Result<T, ConfigError> {
    let raw = get(name);
    raw.trim()
        .parse()
        .map_err(|_| ConfigError(format!("{name}: cannot read `{raw}`")))
}

/// How many bytes standard base64 (padded) decodes to, if it is base64 at all.
fn decoded_len(encoded: &str) -> Option<usize> {
    data_encoding::BASE64
        .decode(encoded.as_bytes())
        .ok()
        .map(|bytes| bytes.len())
}

fn parse_key_list(raw: &str) -> Result<Vec<(String, SecretString)>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(kid, secret)| (kid.trim().to_owned(), SecretString::from(secret.trim())))
                .ok_or_else(|| ConfigError("JWT_PREVIOUS_KEYS: expected kid=secret".into()))
        })
        .collect()
}

/// `10.0.0.0/8, 192.168.1.7`: CIDR ranges, a bare address standing for itself.
fn parse_networks(raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError(format!("TRUSTED_PROXIES: `{entry}` is not an IP or CIDR"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_serve_sqlite_on_localhost() {
        let config = config_with(&[]).expect("defaults are valid");
        assert_eq!(config.backend_name(), "sqlite");
        assert_eq!(config.server.port, 8080);
        assert_eq!(config.limits.max_page_size, 100);
    }

    #[test]
    fn production_refuses_default_jwt_secret() {
        let err = config_with(&[("APP_ENV", "production")]).expect_err("must refuse");
        assert!(err.0.contains("JWT_SECRET"));
    }

    #[test]
    fn production_starts_with_real_secrets() {
        let config = config_with(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "a-real-secret-that-is-long-enough-123456"),
            (
                "LICENSE_KEY_SECRET",
                "another-real-secret-long-enough-654321",
            ),
        ]);
        assert!(config.is_ok());
    }

    #[test]
    fn previous_keys_are_parsed() {
        let config = config_with(&[("JWT_PREVIOUS_KEYS", "old=aaaa, older=bbbb")]).expect("ok");
        let kids: Vec<_> = config
            .auth
            .jwt_previous_keys
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(kids, ["old", "older"]);
    }

    #[test]
    fn mail_settings_are_checked_and_the_smtp_url_never_printed() {
        let config = config_with(&[
            ("PUBLIC_URL", "https://licensing.example.com/"),
            ("SMTP_URL", "smtps://mailer:hunter2@smtp.example.com:465"),
        ])
        .expect("valid");
        assert_eq!(config.mail.public_url, "https://licensing.example.com");
        assert!(config.mail.smtp_url.is_some());
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(config_with(&[]).expect("defaults").mail.smtp_url.is_none());
        for (name, value) in [
            ("PUBLIC_URL", "licensing.example.com"),
            ("PUBLIC_URL", "https://x.example.com/?a=1"),
            ("MAIL_MAX_ATTEMPTS", "0"),
            ("MAIL_RETRY_SECONDS", "0"),
            ("MAIL_POLL_SECONDS", "soon"),
        ] {
            let err = config_with(&[(name, value)]).expect_err("refused");
            assert!(err.0.contains(name), "{}", err.0);
        }
    }

    #[test]
    fn a_wrong_license_signing_key_stops_the_start_without_being_printed() {
        let seed = data_encoding::BASE64.encode(&[7u8; 32]);
        let config = config_with(&[("LICENSE_SIGNING_KEY", seed.as_str())]).expect("valid");
        assert!(config.licensing.signing_key.is_some());
        assert!(!format!("{config:?}").contains(&seed));
        for (name, value) in [
            ("LICENSE_SIGNING_KEY", "c2hvcnQtc2VjcmV0LXNlZWQ="),
            ("LICENSE_SIGNING_KEY", "not base64 at all!"),
            ("LICENSE_SIGNING_KEYS_RETIRED", "AAAA"),
        ] {
            let err = config_with(&[(name, value)]).expect_err("refused");
            assert!(err.0.contains(name), "{}", err.0);
            assert!(!err.0.contains(value), "{}", err.0);
        }
    }

    #[test]
    fn env_example_and_readme_list_every_variable() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let example =
            std::fs::read_to_string(format!("{root}/.env.example")).expect(".env.example");
        let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
        for (name, _, _) in VARIABLES {
            assert!(
                example
                    .lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{name}="))),
                ".env.example lacks {name}"
            );
            assert!(
                readme.contains(&format!("`{name}`")),
                "README table lacks {name}"
            );
        }
    }
}
