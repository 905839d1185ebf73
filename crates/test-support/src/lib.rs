//! Test isolation, so integration tests run in parallel against the real PostgreSQL and
//! RabbitMQ: [`TestDb`] creates and migrates a database per test and drops it afterwards;
//! [`TestBroker`] gives each test its own exchange and queue prefix and deletes them afterwards;
//! [`tls`] puts TLS with a per-test certificate authority in front of either; [`http_stub`]
//! stands in for a platform's gateway.
//!
//! `LEADGEN_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! `LEADGEN_TEST_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`) point at the servers.

#![expect(
    clippy::expect_used,
    reason = "broken test infrastructure should stop the test at once"
)]

pub mod envelope;
pub mod http_stub;
pub mod rabbitmq;
pub mod tls;

use diesel_async::RunQueryDsl;
use leadgen_db::DbPool;
use leadgen_domain::PlatformType;
use leadgen_messaging::{QueueSpec, Topology};
use leadgen_settings::{
    AmqpSettings, AuthSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings,
    PlatformEndpoint, PlatformsSettings, SecretString, TelemetrySettings,
};

/// The HS256 secret test settings use.
pub const JWT_SECRET: &str = "test-jwt-secret-please-change-it-now";

fn env_or(key: &str, default: &str) -> String {
    #[expect(clippy::disallowed_methods, reason = "test-only server locations")]
    let value = std::env::var(key).unwrap_or_else(|_| default.to_owned());
    value
}

/// On this thread until the guard drops, spans get trace ids as the services' OpenTelemetry
/// layer gives them (nothing exported): a root span starts a trace, a child continues its
/// parent's. For tests of which trace a unit of work runs under (`current_trace_id`, the trace
/// context the outbox stores); use a current-thread runtime, so every poll is on this thread.
pub fn with_trace_ids() -> tracing::subscriber::DefaultGuard {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_default(subscriber)
}

/// The admin URL of the test PostgreSQL server.
pub fn admin_database_url() -> String {
    env_or(
        "LEADGEN_TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

/// The test RabbitMQ URL.
pub fn amqp_url() -> String {
    env_or(
        "LEADGEN_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A migrated database of its own, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: DbPool,
}

impl TestDb {
    pub async fn new() -> Self {
        let admin = admin_database_url();
        let name = unique("leadgen_t_");
        let mut conn = leadgen_db::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = replace_database(&admin, &name);
        leadgen_db::run_migrations(&url)
            .await
            .expect("migrate test database");
        let pool = leadgen_db::build_pool(&database_settings(&url), "test").expect("test pool");
        TestDb { name, url, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = admin_database_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = leadgen_db::connect(&admin).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

impl TestDb {
    /// An ACTIVE shop of `tenant` on `platform_type` (credentials are placeholders: for tests
    /// that never call the platform); its id.
    pub async fn active_shop(&self, tenant: i64, platform_type: &str) -> i64 {
        use diesel::ExpressionMethods as _;
        use leadgen_db::schema::t_ecom_platform_auth as auth;
        let mut conn = leadgen_db::conn(&self.pool).await.expect("conn");
        diesel::insert_into(auth::table)
            .values((
                auth::tenant_id.eq(tenant),
                auth::platform_type.eq(platform_type),
                auth::app_key.eq("app-key"),
                auth::auth_info.eq("sealed-placeholder"),
                auth::status.eq("ACTIVE"),
                auth::callback_url.eq("https://example.com/callback"),
                auth::created_by.eq(7_i64),
            ))
            .returning(auth::id)
            .get_result(&mut conn)
            .await
            .expect("insert shop")
    }

    /// A MANUAL sync task of `shop` (of `tenant`, on `platform_type`) in `status`, over the day
    /// before now; its id. Tests set other columns with an update.
    pub async fn sync_task(
        &self,
        tenant: i64,
        shop: i64,
        platform_type: &str,
        status: &str,
    ) -> i64 {
        use diesel::ExpressionMethods as _;
        use leadgen_db::schema::t_ecom_sync_task as task;
        let mut conn = leadgen_db::conn(&self.pool).await.expect("conn");
        let now = chrono::Utc::now();
        diesel::insert_into(task::table)
            .values((
                task::tenant_id.eq(tenant),
                task::platform_id.eq(shop),
                task::platform_type.eq(platform_type),
                task::trigger_type.eq("MANUAL"),
                task::status.eq(status),
                task::window_start.eq(now - chrono::Duration::days(1)),
                task::window_end.eq(now),
            ))
            .returning(task::id)
            .get_result(&mut conn)
            .await
            .expect("insert sync task")
    }

    /// Waits until a connection to this database waits for a lock, and ends it (as a
    /// restarting database ends every connection): a passing failure, as the code that holds
    /// the connection meets it.
    pub async fn end_a_connection_waiting_for_a_lock(&self) {
        #[derive(diesel::QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let mut conn = leadgen_db::conn(&self.pool).await.expect("conn");
        let pid = loop {
            let waiting: Vec<Waiting> = diesel::sql_query(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            )
            .load(&mut conn)
            .await
            .expect("activity");
            if let Some(w) = waiting.into_iter().next() {
                break w.pid;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        diesel::sql_query("SELECT pg_terminate_backend($1)")
            .bind::<diesel::sql_types::Integer, _>(pid)
            .execute(&mut conn)
            .await
            .expect("terminated");
    }
}

/// `url` with its database name replaced.
pub fn replace_database(url: &str, name: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{url}/{name}"),
    }
}

/// A broker prefix of its own; its queues and exchanges are deleted when the value is dropped.
pub struct TestBroker {
    pub prefix: String,
    pub queues: Vec<QueueSpec>,
}

impl TestBroker {
    pub fn new(queues: Vec<QueueSpec>) -> Self {
        TestBroker {
            prefix: unique("t-"),
            queues,
        }
    }

    pub fn settings(&self) -> AmqpSettings {
        AmqpSettings {
            url: SecretString::from(amqp_url()),
            prefix: self.prefix.clone(),
            prefetch: 8,
            delivery_limit: 5,
            confirm_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            give_up_secs: 300,
            ca_file: None,
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let settings = self.settings();
        let queues = self.queues.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(broker) = leadgen_messaging::Broker::connect(&settings, Vec::new()).await
                {
                    let topology = Topology {
                        prefix: settings.prefix.clone(),
                        delivery_limit: settings.delivery_limit,
                    };
                    let _ = broker.delete_queues_and_exchanges(&topology, &queues).await;
                    broker.close().await;
                }
            });
        })
        .join();
    }
}

pub fn database_settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: SecretString::from(url.to_owned()),
        max_connections: 5,
        statement_timeout_ms: 30_000,
        pool_wait_ms: 5_000,
        verify_idle_ms: 10_000,
        plan_cache_mode: Default::default(),
    }
}

pub fn http_settings() -> HttpSettings {
    HttpSettings {
        host: "127.0.0.1".into(),
        port: 0,
        shutdown_timeout_secs: 5,
        keep_alive_secs: 75,
        // Tests and benchmarks ask one tenant's requests as fast as they answer.
        tenant_requests_per_second: std::num::NonZeroU32::new(1_000_000)
            .unwrap_or(std::num::NonZeroU32::MAX),
        tenant_request_burst: std::num::NonZeroU32::new(1_000_000)
            .unwrap_or(std::num::NonZeroU32::MAX),
    }
}

pub fn telemetry_settings() -> TelemetrySettings {
    TelemetrySettings {
        log_format: "pretty".into(),
        log_filter: "warn".into(),
        otlp_endpoint: None,
    }
}

pub fn auth_settings() -> AuthSettings {
    AuthSettings {
        algorithm: "HS256".into(),
        hmac_secret: Some(SecretString::from(JWT_SECRET.to_owned())),
        public_key_pem: None,
        additional_public_keys_pem: Vec::new(),
        issuer: None,
        audience: None,
    }
}

pub fn crypto_settings() -> CryptoSettings {
    use base64::Engine as _;
    CryptoSettings {
        data_key: SecretString::from(base64::engine::general_purpose::STANDARD.encode([42u8; 32])),
        key_id: 1,
        previous_keys: Vec::new(),
        blind_index_key: Some(SecretString::from(
            base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )),
        blind_index_key_id: 1,
        blind_index_previous_keys: Vec::new(),
    }
}

fn unreachable_endpoint(platform: &str) -> PlatformEndpoint {
    PlatformEndpoint {
        api_url: format!("http://127.0.0.1:9/{platform}/router/rest"),
        authorize_url: format!("http://127.0.0.1:9/{platform}/authorize"),
        token_url: format!("http://127.0.0.1:9/{platform}/token"),
        qps: 10,
        timeout_ms: 2_000,
    }
}

/// Every platform at an unused local port: no test reaches a platform unless it says so.
pub fn unreachable_platforms() -> PlatformsSettings {
    PlatformsSettings {
        shared_rate_limit: true,
        endpoints: PlatformType::ALL
            .iter()
            .map(|p| (*p, unreachable_endpoint(&p.as_str().to_lowercase())))
            .collect(),
    }
}

pub fn outbox_settings() -> OutboxSettings {
    OutboxSettings {
        poll_interval_ms: 50,
        batch_size: 100,
    }
}

/// A bearer token for `tenant` with `perms`.
pub fn token(tenant: i64, user: i64, perms: &[&str]) -> String {
    let claims = leadgen_http::Claims {
        sub: user,
        tenant_id: tenant,
        name: "测试用户".into(),
        perms: perms.iter().map(|p| (*p).to_owned()).collect(),
        exp: chrono::Utc::now().timestamp() + 3600,
        iss: None,
        aud: Vec::new(),
    };
    leadgen_http::auth::mint_hs256(JWT_SECRET, &claims).expect("mint test token")
}

/// Writes a benchmark's numbers to `target/bench/<name>.json` (what `make bench`'s table reads).
pub fn write_bench_json(name: &str, value: &serde_json::Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(value).unwrap_or_default(),
        )
    });
    if let Err(e) = written {
        eprintln!("could not write target/bench/{name}.json: {e}");
    }
}
