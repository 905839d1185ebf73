//! The configuration sections the services compose. Every key is documented where it is declared.

use std::collections::HashMap;

use leadgen_domain::PlatformType;
use secrecy::SecretString;
use serde::Deserialize;
use validator::Validate;

/// `[http]`: where the service listens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    /// `0` picks a free port (tests).
    pub port: u16,
    /// Seconds to let in-flight requests finish on shutdown.
    #[serde(default = "default_shutdown_secs")]
    pub shutdown_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open. Longer than any proxy in front keeps
    /// its idle upstream connections (the gateway's `keepalive_timeout 60s`, ingress-nginx's
    /// `upstream-keepalive-timeout` 60): otherwise the proxy sends a request on a connection
    /// the service is closing, and a POST it cannot retry answers 502.
    #[serde(default = "default_keep_alive_secs")]
    pub keep_alive_secs: u64,
    /// Requests one tenant may make of this process a second, sustained (its bucket refills
    /// at this rate); past it and its burst, 429 (42907) with `Retry-After`.
    #[serde(default = "default_tenant_requests_per_second")]
    pub tenant_requests_per_second: std::num::NonZeroU32,
    /// Requests one tenant may make of this process at once before the rate applies.
    #[serde(default = "default_tenant_request_burst")]
    pub tenant_request_burst: std::num::NonZeroU32,
}

/// `[database]`: PostgreSQL.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    #[serde(default = "default_pool_size")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub max_connections: usize,
    /// Applied to every connection (`SET statement_timeout`); PostgreSQL's 0 (no timeout) is
    /// not taken.
    #[serde(default = "default_statement_timeout_ms")]
    #[validate(range(
        min = 1,
        max = 2_147_483_647,
        message = "must be 1 to 2147483647 (PostgreSQL's 0 turns the timeout off)"
    ))]
    pub statement_timeout_ms: u64,
    /// How long a caller waits for a pooled connection, and opening one may take.
    #[serde(default = "default_pool_wait_ms")]
    #[validate(range(
        min = 100,
        message = "must be at least 100 (it also bounds opening a connection)"
    ))]
    pub pool_wait_ms: u64,
    /// A pooled connection not checked out for this long is verified (`SELECT 1`) before it is
    /// handed out again; a busier one is only checked for being closed or left mid-transaction.
    #[serde(default = "default_verify_idle_ms")]
    pub verify_idle_ms: u64,
    /// PostgreSQL's `plan_cache_mode` for every connection.
    #[serde(default)]
    pub plan_cache_mode: PlanCacheMode,
}

/// How PostgreSQL plans the statements a connection prepared (and caches: every statement
/// diesel-async runs). `auto` (PostgreSQL's default) switches to one generic plan after five
/// executions; `force_custom_plan` plans every execution with its parameters and the tables as
/// they are then. A generic plan made while a table was nearly empty (a fresh install's first
/// backlog, before autovacuum's first ANALYZE) keeps scanning the whole table as it grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanCacheMode {
    #[default]
    Auto,
    ForceCustomPlan,
    ForceGenericPlan,
}

impl PlanCacheMode {
    /// The setting's value as PostgreSQL names it.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanCacheMode::Auto => "auto",
            PlanCacheMode::ForceCustomPlan => "force_custom_plan",
            PlanCacheMode::ForceGenericPlan => "force_generic_plan",
        }
    }
}

/// `[amqp]`: RabbitMQ.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://…`, or `amqps://…` for TLS: the broker's certificate must be signed by a trusted
    /// CA and name the URL's host.
    pub url: SecretString,
    /// A PEM file of CAs trusted for an `amqps://` broker, beside the Mozilla roots compiled in
    /// (a cluster's own CA, say). Read at every connect, so a renewed file is taken without a
    /// restart.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Prefix of every exchange and queue name (tests use a unique one per test).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Unacknowledged deliveries per consumer.
    #[serde(default = "default_prefetch")]
    #[validate(range(min = 1, message = "must be at least 1 (0 is no limit to RabbitMQ)"))]
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered (quorum `x-delivery-limit`).
    #[serde(default = "default_delivery_limit")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub delivery_limit: u32,
    /// How long to wait for a publisher confirm.
    #[serde(default = "default_confirm_timeout_ms")]
    #[validate(range(min = 100, message = "must be at least 100"))]
    pub confirm_timeout_ms: u64,
    /// How long opening a connection (TCP, the AMQP handshake, the topology) may take before it
    /// counts as failed and is tried again: a broker address that swallows packets would
    /// otherwise hold every publisher and consumer of the process until the kernel gives up.
    #[serde(default = "default_connect_timeout_ms")]
    #[validate(range(min = 100, message = "must be at least 100"))]
    pub connect_timeout_ms: u64,
    /// A consumer without a broker connection this long gives up: the process stops its work
    /// and exits non-zero (Kubernetes restarts it).
    #[serde(default = "default_give_up_secs")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub give_up_secs: u64,
}

/// `[telemetry]`: logs and traces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `json` (default) or `pretty`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    #[serde(default = "default_log_filter")]
    pub log_filter: String,
    /// OTLP/HTTP endpoint for traces (e.g. `http://otel-collector:4318/v1/traces`); none: traces
    /// are still created (trace ids in responses and messages) but not exported.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
}

/// `[auth]`: how bearer tokens are verified.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `HS256` (local development, shared secret) or `RS256` (the identity service's key).
    pub algorithm: String,
    /// Shared secret for `HS256`.
    #[serde(default)]
    pub hmac_secret: Option<SecretString>,
    /// PEM public key for `RS256`.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// More PEM public keys a token may verify under (`RS256`): the identity service's next key
    /// before it signs with it, or its last one until the tokens it signed have expired, so that
    /// its key rotates without refusing anyone's token. The environment gives them
    /// comma-separated.
    #[serde(default, deserialize_with = "crate::entries")]
    pub additional_public_keys_pem: Vec<String>,
    /// Expected `iss`, when set.
    #[serde(default)]
    #[validate(length(min = 1, message = "is empty: set it, or leave it out"))]
    pub issuer: Option<String>,
    /// Expected `aud`, when set.
    #[serde(default)]
    #[validate(length(min = 1, message = "is empty: set it, or leave it out"))]
    pub audience: Option<String>,
}

/// `[crypto]`: the data key for secrets and personal data at rest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoSettings {
    /// 32 bytes, Base64 (AES-256-GCM).
    pub data_key: SecretString,
    /// Written beside each ciphertext so keys can rotate.
    #[serde(default = "default_key_id")]
    pub key_id: u8,
    /// Older keys still accepted for decryption, as `id:base64`.
    #[serde(default, deserialize_with = "crate::entries")]
    pub previous_keys: Vec<SecretString>,
    /// The blind-index key (HMAC-SHA256, at least 32 bytes, Base64): buyers are grouped and
    /// phones found by keyed indexes, never by an unkeyed hash. A key of its own, never the data
    /// key. Needed by order-processor (and lead-api's phone search).
    #[serde(default)]
    pub blind_index_key: Option<SecretString>,
    /// Written in front of each index so the key can rotate (`leadctl blind-index rotate`).
    #[serde(default = "default_key_id")]
    pub blind_index_key_id: u8,
    /// Older blind-index keys, as `id:base64`, still looked up while indexes are rewritten.
    #[serde(default, deserialize_with = "crate::entries")]
    pub blind_index_previous_keys: Vec<SecretString>,
}

/// `[outbox]`: the relay that publishes committed events.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    #[serde(default = "default_poll_ms")]
    #[validate(range(min = 10, message = "must be at least 10"))]
    pub poll_interval_ms: u64,
    #[serde(default = "default_batch")]
    #[validate(range(min = 1, max = 10_000, message = "must be 1 to 10000"))]
    pub batch_size: i64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            poll_interval_ms: default_poll_ms(),
            batch_size: default_batch(),
        }
    }
}

/// One platform's endpoints and client-side limits.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PlatformEndpoint {
    /// The API gateway (`…/router/rest` for Taobao).
    pub api_url: String,
    /// The consent page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// Calls per second we allow ourselves per app key.
    #[serde(default = "default_qps")]
    pub qps: u32,
    /// Request timeout.
    #[serde(default = "default_platform_timeout_ms")]
    #[validate(range(min = 100, message = "must be at least 100"))]
    pub timeout_ms: u64,
}

/// `[platforms]`: every platform's endpoints, one `[platforms.<name>]` table each, named by the
/// platform in lower case (`taobao`, `jd`, `pdd`, `douyin`, `kuaishou`). Production defaults are the real endpoints; the local configuration
/// points at the simulator. A platform without a table is switched off: adding an authorization
/// for it answers 40005. A table named after no platform is a configuration error.
#[derive(Debug, Clone, Deserialize, Validate)]
pub struct PlatformsSettings {
    /// Space each app key's calls across every replica through PostgreSQL
    /// (`t_platform_call_slot`), so N replicas together stay within `qps`. Off: each process
    /// limits itself only (N replicas may send N × qps).
    #[serde(default = "default_true")]
    pub shared_rate_limit: bool,
    /// Every other key of `[platforms]`: a platform's endpoint.
    /// Each table's ranges are checked as it is read (`platform_endpoints`), named by it.
    #[serde(flatten, deserialize_with = "platform_endpoints")]
    pub endpoints: HashMap<PlatformType, PlatformEndpoint>,
}

impl PlatformsSettings {
    /// `platform`'s endpoint, when it is switched on.
    pub fn endpoint(&self, platform: PlatformType) -> Option<&PlatformEndpoint> {
        self.endpoints.get(&platform)
    }
}

/// Reads `[platforms.<name>]` tables, each name a platform in lower case (as the environment's
/// `LEADGEN__PLATFORMS__<NAME>__…` arrives): a name that is no platform, or in another case (a
/// file's `[platforms.TAOBAO]` beside the environment's `taobao` would be two tables), is an
/// error naming it, and an endpoint's own errors name its table.
fn platform_endpoints<'de, D>(d: D) -> Result<HashMap<PlatformType, PlatformEndpoint>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Tables;

    impl<'de> serde::de::Visitor<'de> for Tables {
        type Value = HashMap<PlatformType, PlatformEndpoint>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("[platforms.<taobao|jd|pdd|douyin|kuaishou>] tables")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            use serde::de::Error as _;
            let mut endpoints = HashMap::new();
            while let Some(name) = map.next_key::<String>()? {
                let platform = (name == name.to_lowercase())
                    .then(|| name.to_uppercase().parse::<PlatformType>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        let names: Vec<String> = PlatformType::ALL
                            .iter()
                            .map(|p| p.as_str().to_lowercase())
                            .collect();
                        A::Error::custom(format!(
                            "[platforms.{name}] names no platform ({}, in lower case)",
                            names.join(", ")
                        ))
                    })?;
                let endpoint: PlatformEndpoint = map
                    .next_value()
                    .map_err(|e| A::Error::custom(format!("[platforms.{name}]: {e}")))?;
                // Its ranges, named by its table (a map's entries have no path of their own).
                endpoint.validate().map_err(|errors| {
                    let mut broken: Vec<String> = errors
                        .field_errors()
                        .iter()
                        .flat_map(|(key, list)| {
                            list.iter().map(move |e| {
                                let message = e.message.as_deref().unwrap_or(&e.code);
                                format!("{key} {message}")
                            })
                        })
                        .collect();
                    broken.sort();
                    A::Error::custom(format!("[platforms.{name}]: {}", broken.join("; ")))
                })?;
                if endpoints.insert(platform, endpoint).is_some() {
                    return Err(A::Error::custom(format!("[platforms.{name}] given twice")));
                }
            }
            Ok(endpoints)
        }
    }

    d.deserialize_map(Tables)
}

fn default_true() -> bool {
    true
}

impl Default for PlatformsSettings {
    fn default() -> Self {
        PlatformsSettings {
            shared_rate_limit: true,
            endpoints: HashMap::new(),
        }
    }
}

fn default_shutdown_secs() -> u64 {
    20
}
fn default_tenant_requests_per_second() -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(50).unwrap_or(std::num::NonZeroU32::MIN)
}
fn default_tenant_request_burst() -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(200).unwrap_or(std::num::NonZeroU32::MIN)
}
fn default_keep_alive_secs() -> u64 {
    75
}
fn default_pool_size() -> usize {
    10
}
fn default_statement_timeout_ms() -> u64 {
    30_000
}
fn default_verify_idle_ms() -> u64 {
    10_000
}
fn default_pool_wait_ms() -> u64 {
    5_000
}
fn default_prefix() -> String {
    "leadgen".to_owned()
}
fn default_prefetch() -> u16 {
    8
}
fn default_delivery_limit() -> u32 {
    5
}
fn default_confirm_timeout_ms() -> u64 {
    10_000
}
fn default_connect_timeout_ms() -> u64 {
    10_000
}
fn default_give_up_secs() -> u64 {
    300
}
fn default_log_format() -> String {
    "json".to_owned()
}
fn default_log_filter() -> String {
    // lapin logs returned messages with their payload at WARN: keep it quiet.
    "info,lapin=error,pinky_swear=error".to_owned()
}
fn default_key_id() -> u8 {
    1
}
fn default_poll_ms() -> u64 {
    200
}
fn default_batch() -> i64 {
    100
}
fn default_qps() -> u32 {
    10
}
fn default_platform_timeout_ms() -> u64 {
    15_000
}
