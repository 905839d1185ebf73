//! One auth-api per test: its own database, its own broker prefix, a client, and one method per
//! endpoint. Rows the platform would have produced (an ACTIVE authorization, sync records) are
//! written straight into the test database.

use std::sync::OnceLock;

use auth_api::config::{OAuthSettings, ShopSettings};
use auth_api::{Application, Settings};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::PooledConn;
use leadgen_db::schema::{t_ecom_platform_auth, t_ecom_sync_task, t_operation_log, t_outbox};
use leadgen_test_support::{
    TestBroker, TestDb, auth_settings, crypto_settings, database_settings, http_settings,
    outbox_settings, telemetry_settings,
};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use leadgen_http::BASE;

/// A query and the ids it should list, in order.
pub type Case<'a> = (&'a [(&'a str, &'a str)], Vec<i64>);
/// The configured callback (used when `authInfo.callbackUrl` is absent).
pub const CALLBACK_URL: &str =
    "https://leadgen.example.com/api/v1/lead-generation/orders/platforms/auth/callback";
/// The Taobao consent page: an unused local port (creating an authorization makes no call).
pub const TAOBAO_AUTHORIZE_URL: &str = "http://127.0.0.1:9/taobao/authorize";

pub const AUTH: &str = "lead:order:auth";
pub const SYNC: &str = "lead:order:sync";
pub const VIEW: &str = "lead:order:view";

/// The operator name the tokens of [`TestApp::token`] carry.
pub const OPERATOR_NAME: &str = "张三";

/// Installs the global subscriber and propagator once, as `main` does, so responses carry real
/// trace ids and an incoming `traceparent` is continued. Only errors are printed, but the
/// request spans stay enabled: the trace id comes from them, and a filter that disables them
/// (their target is `leadgen_http`, where the middleware is built) leaves it all zeros. The
/// broker client's complaints when a test's runtime stops under it are silenced.
fn init_telemetry() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mut settings = telemetry_settings();
        settings.log_filter = "error,leadgen_http=info,lapin=off,pinky_swear=off".into();
        if let Ok(guard) = leadgen_telemetry::init(&settings, "auth-api-tests") {
            // Kept for the whole test binary: dropping it would shut the tracer down.
            let _ = Box::leak(Box::new(guard));
        }
    });
}

pub use leadgen_test_support::unreachable_platforms as platforms_settings;

pub fn settings(db: &TestDb, broker: &TestBroker) -> Settings {
    Settings {
        http: http_settings(),
        database: database_settings(&db.url),
        amqp: broker.settings(),
        telemetry: telemetry_settings(),
        auth: auth_settings(),
        crypto: crypto_settings(),
        platforms: platforms_settings(),
        outbox: outbox_settings(),
        oauth: OAuthSettings {
            callback_url: CALLBACK_URL.into(),
            state_ttl_minutes: 30,
            max_pending_per_tenant: 20,
            // The front end the redirect tests use; nothing else is allowed.
            allowed_redirect_origins: vec!["https://app.example.com".into()],
            // A second host name of our callback, for the callbackUrl tests.
            allowed_callback_origins: vec!["https://leadgen-alt.example.com".into()],
            // The tests that want a backfill on connect turn it on.
            backfill_days: 0,
            // The client keeps cookies like the merchant's browser (see `spawn_app_with`).
            bind_state_to_browser: true,
        },
        shops: ShopSettings::default(),
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub db: TestDb,
    pub broker: TestBroker,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _server: JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The service with the default test settings (the outbox relay polls every 50 ms).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestBroker::new(Vec::new()), |_| {}).await
}

/// Whether the service publishes the events it writes to `t_outbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    Running,
    /// No relay: the rows a request writes to `t_outbox` stay there to be read.
    Off,
}

/// The service without its outbox relay ([`Relay::Off`]).
pub async fn spawn_app_without_relay() -> TestApp {
    spawn_app_relaying(TestBroker::new(Vec::new()), Relay::Off, |_| {}).await
}

/// The service with its relay running, its settings changed by `customize`.
pub async fn spawn_app_with(broker: TestBroker, customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_relaying(broker, Relay::Running, customize).await
}

pub async fn spawn_app_relaying(
    broker: TestBroker,
    relay: Relay,
    customize: impl FnOnce(&mut Settings),
) -> TestApp {
    init_telemetry();
    let db = TestDb::new().await;
    let mut settings = settings(&db, &broker);
    customize(&mut settings);
    let mut app = Application::build(settings).await.expect("build auth-api");
    if relay == Relay::Off {
        app = app.without_relay();
    }
    let port = app.port();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    // One browser: it keeps the consent cookie set when an authorization is created.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        broker,
        client,
        shutdown,
        _server: server,
    }
}

/// A token of `tenant`'s user 7, named [`OPERATOR_NAME`], with `perms`.
pub fn token(tenant: i64, perms: &[&str]) -> String {
    token_with(tenant, 7, OPERATOR_NAME, perms, 3600)
}

/// A token expiring `expires_in_secs` from now (negative: already expired).
pub fn token_with(
    tenant: i64,
    user: i64,
    name: &str,
    perms: &[&str],
    expires_in_secs: i64,
) -> String {
    let claims = leadgen_http::Claims {
        sub: user,
        tenant_id: tenant,
        name: name.into(),
        perms: perms.iter().map(|p| (*p).to_owned()).collect(),
        exp: Utc::now().timestamp() + expires_in_secs,
        iss: None,
        aud: Vec::new(),
    };
    leadgen_http::auth::mint_hs256(leadgen_test_support::JWT_SECRET, &claims).expect("mint token")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{BASE}{path}", self.address)
    }

    fn with_token(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    /// `POST /platforms/auth` with a JSON body.
    pub async fn create_authorization(&self, token: Option<&str>, body: &Value) -> Response {
        self.with_token(self.client.post(self.url("/platforms/auth")), token)
            .json(body)
            .send()
            .await
            .expect("POST /platforms/auth")
    }

    /// `POST /platforms/auth` with a raw body.
    pub async fn create_authorization_raw(&self, token: Option<&str>, body: &str) -> Response {
        self.with_token(self.client.post(self.url("/platforms/auth")), token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST /platforms/auth")
    }

    /// Adds a Taobao authorization for `tenant` through the API; its platform id.
    pub async fn create_taobao(&self, tenant: i64, app_key: &str) -> i64 {
        let body = serde_json::json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": app_key, "appSecret": format!("secret-of-{app_key}") },
        });
        let response = self
            .create_authorization(Some(&token(tenant, &[AUTH])), &body)
            .await;
        let body = expect_envelope(response, StatusCode::CREATED, 201).await;
        body["data"]["platformId"].as_i64().expect("platformId")
    }

    /// Adds a Taobao authorization for `tenant` and makes it ACTIVE in the database.
    pub async fn active_taobao(&self, tenant: i64, app_key: &str) -> i64 {
        let id = self.create_taobao(tenant, app_key).await;
        self.set_status(id, "ACTIVE").await;
        id
    }

    /// `GET /platforms`
    pub async fn list_platforms(&self, token: Option<&str>, query: &[(&str, &str)]) -> Response {
        self.with_token(self.client.get(self.url("/platforms")), token)
            .query(query)
            .send()
            .await
            .expect("GET /platforms")
    }

    /// `GET /platforms/{id}` as tenant 1 with `lead:order:view`: the envelope of a 200.
    pub async fn shop_detail(&self, platform_id: i64) -> Value {
        let response = self
            .client
            .get(self.url(&format!("/platforms/{platform_id}")))
            .bearer_auth(token(1, &[VIEW]))
            .send()
            .await
            .expect("GET /platforms/{id}");
        expect_envelope(response, StatusCode::OK, 200).await
    }

    /// `POST /platforms/{id}/sync`; `body` `None` sends no body at all.
    pub async fn request_sync(
        &self,
        token: Option<&str>,
        platform_id: &str,
        body: Option<&str>,
    ) -> Response {
        let mut request = self.with_token(
            self.client
                .post(self.url(&format!("/platforms/{platform_id}/sync"))),
            token,
        );
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        request.send().await.expect("POST /platforms/{id}/sync")
    }

    /// `GET /sync-records`
    pub async fn sync_records(&self, token: Option<&str>, query: &[(&str, &str)]) -> Response {
        self.with_token(self.client.get(self.url("/sync-records")), token)
            .query(query)
            .send()
            .await
            .expect("GET /sync-records")
    }

    /// `GET /platforms/auth/callback` (no token: a browser redirect).
    pub async fn callback(&self, query: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url("/platforms/auth/callback"))
            .query(query)
            .send()
            .await
            .expect("GET /platforms/auth/callback")
    }

    /// [`TestApp::callback`] from another browser than the one that created the authorization
    /// (no cookies).
    pub async fn callback_elsewhere(&self, query: &[(&str, &str)]) -> Response {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client")
            .get(self.url("/platforms/auth/callback"))
            .query(query)
            .send()
            .await
            .expect("GET /platforms/auth/callback")
    }

    /// `GET <path>` on the service root (`/healthz`, `/readyz`, unknown paths).
    pub async fn get_root(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("GET")
    }

    pub async fn conn(&self) -> PooledConn {
        leadgen_db::conn(&self.db.pool)
            .await
            .expect("test database connection")
    }

    pub async fn set_status(&self, platform_id: i64, status: &str) {
        let mut conn = self.conn().await;
        diesel::update(t_ecom_platform_auth::table.find(platform_id))
            .set(t_ecom_platform_auth::status.eq(status))
            .execute(&mut conn)
            .await
            .expect("update status");
    }

    /// Marks an authorization changed a minute from now (its `update_time`), so that it is the
    /// last one changed.
    pub async fn touch_platform(&self, platform_id: i64) {
        let mut conn = self.conn().await;
        diesel::update(t_ecom_platform_auth::table.find(platform_id))
            .set(t_ecom_platform_auth::update_time.eq(Utc::now() + Duration::minutes(1)))
            .execute(&mut conn)
            .await
            .expect("update update_time");
    }

    pub async fn set_last_sync_time(&self, platform_id: i64, at: DateTime<Utc>) {
        let mut conn = self.conn().await;
        diesel::update(t_ecom_platform_auth::table.find(platform_id))
            .set(t_ecom_platform_auth::last_sync_time.eq(Some(at)))
            .execute(&mut conn)
            .await
            .expect("update last_sync_time");
    }

    /// What sync-worker does when a by-modification window is fully stored.
    pub async fn set_modified_watermark(&self, platform_id: i64, at: DateTime<Utc>) {
        let mut conn = self.conn().await;
        diesel::update(t_ecom_platform_auth::table.find(platform_id))
            .set(t_ecom_platform_auth::modified_watermark.eq(Some(at)))
            .execute(&mut conn)
            .await
            .expect("update modified_watermark");
    }

    /// What sync-worker does when a task ends.
    pub async fn set_task_status(&self, task_id: i64, status: &str) {
        let mut conn = self.conn().await;
        diesel::update(t_ecom_sync_task::table.find(task_id))
            .set((
                t_ecom_sync_task::status.eq(status),
                t_ecom_sync_task::finished_at.eq(Some(Utc::now())),
            ))
            .execute(&mut conn)
            .await
            .expect("update task status");
    }

    /// Inserts an authorization directly (any platform type and status).
    pub async fn insert_platform(
        &self,
        tenant: i64,
        platform_type: &str,
        status: &str,
        app_key: &str,
    ) -> i64 {
        let mut conn = self.conn().await;
        diesel::insert_into(t_ecom_platform_auth::table)
            .values((
                t_ecom_platform_auth::tenant_id.eq(tenant),
                t_ecom_platform_auth::platform_type.eq(platform_type),
                t_ecom_platform_auth::app_key.eq(app_key),
                t_ecom_platform_auth::auth_info.eq("sealed-placeholder"),
                t_ecom_platform_auth::status.eq(status),
                t_ecom_platform_auth::callback_url.eq(CALLBACK_URL),
                t_ecom_platform_auth::created_by.eq(7_i64),
            ))
            .returning(t_ecom_platform_auth::id)
            .get_result(&mut conn)
            .await
            .expect("insert platform")
    }

    /// Inserts a sync task directly, as sync-worker would have left it.
    pub async fn insert_task(&self, task: SeedTask<'_>) -> i64 {
        let mut conn = self.conn().await;
        diesel::insert_into(t_ecom_sync_task::table)
            .values((
                t_ecom_sync_task::tenant_id.eq(task.tenant),
                t_ecom_sync_task::platform_id.eq(task.platform_id),
                t_ecom_sync_task::platform_type.eq(task.platform_type),
                t_ecom_sync_task::trigger_type.eq(task.trigger),
                t_ecom_sync_task::status.eq(task.status),
                t_ecom_sync_task::window_start.eq(task.sync_time - Duration::days(1)),
                t_ecom_sync_task::window_end.eq(task.sync_time),
                t_ecom_sync_task::sync_time.eq(task.sync_time),
                t_ecom_sync_task::finished_at.eq(task.finished_at),
                t_ecom_sync_task::success_count.eq(task.success_count),
                t_ecom_sync_task::failure_count.eq(task.failure_count),
                t_ecom_sync_task::error_message.eq(task.error_message),
                t_ecom_sync_task::listing.eq(if task.trigger == "SCHEDULED" {
                    "MODIFIED"
                } else {
                    "CREATED"
                }),
            ))
            .returning(t_ecom_sync_task::id)
            .get_result(&mut conn)
            .await
            .expect("insert sync task")
    }

    /// `(routing_key, payload)` of every outbox row, in id order.
    pub async fn outbox(&self) -> Vec<(String, Value)> {
        let mut conn = self.conn().await;
        t_outbox::table
            .order(t_outbox::id.asc())
            .select((t_outbox::routing_key, t_outbox::payload))
            .load::<(String, String)>(&mut conn)
            .await
            .expect("read t_outbox")
            .into_iter()
            .map(|(key, payload)| {
                (
                    key,
                    serde_json::from_str(&payload).expect("an event's JSON"),
                )
            })
            .collect()
    }

    /// The operation log holds refused adds only, at least one (nothing was added).
    pub async fn only_refused_adds(&self) {
        let log = self.operation_log().await;
        assert!(!log.is_empty(), "the refusal is logged");
        assert!(
            log.iter()
                .all(|r| r.action == "PLATFORM_AUTH_CREATE" && r.result == "FAILURE"),
            "{log:?}"
        );
    }

    pub async fn operation_log(&self) -> Vec<OpLogRow> {
        let mut conn = self.conn().await;
        t_operation_log::table
            .order(t_operation_log::id.asc())
            .select(OpLogRow::as_select())
            .load(&mut conn)
            .await
            .expect("read t_operation_log")
    }

    pub async fn platform_row(&self, platform_id: i64) -> PlatformRow {
        let mut conn = self.conn().await;
        t_ecom_platform_auth::table
            .find(platform_id)
            .select(PlatformRow::as_select())
            .first(&mut conn)
            .await
            .expect("read t_ecom_platform_auth")
    }

    pub async fn task_row(&self, task_id: i64) -> TaskRow {
        let mut conn = self.conn().await;
        t_ecom_sync_task::table
            .find(task_id)
            .select(TaskRow::as_select())
            .first(&mut conn)
            .await
            .expect("read t_ecom_sync_task")
    }
}

/// A sync task to insert.
pub struct SeedTask<'a> {
    pub tenant: i64,
    pub platform_id: i64,
    pub platform_type: &'a str,
    pub trigger: &'a str,
    pub status: &'a str,
    pub sync_time: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub success_count: i32,
    pub failure_count: i32,
    pub error_message: Option<&'a str>,
}

impl<'a> SeedTask<'a> {
    /// A COMPLETED scheduled task of a Taobao authorization.
    pub fn completed(tenant: i64, platform_id: i64, sync_time: DateTime<Utc>) -> Self {
        SeedTask {
            tenant,
            platform_id,
            platform_type: "TAOBAO",
            trigger: "SCHEDULED",
            status: "COMPLETED",
            sync_time,
            finished_at: Some(sync_time + Duration::minutes(1)),
            success_count: 0,
            failure_count: 0,
            error_message: None,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = t_operation_log)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OpLogRow {
    pub tenant_id: i64,
    pub service: String,
    pub operator_id: Option<i64>,
    pub operator_name: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_ids: Vec<String>,
    pub result: String,
    pub error_message: Option<String>,
    pub trace_id: Option<String>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = t_ecom_platform_auth)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PlatformRow {
    pub tenant_id: i64,
    pub platform_type: String,
    pub app_key: String,
    pub auth_info: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub oauth_state_hash: Option<String>,
    pub redirect_url: Option<String>,
    pub callback_url: String,
    pub created_by: i64,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = t_ecom_sync_task)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    pub tenant_id: i64,
    pub platform_id: i64,
    pub platform_type: String,
    pub trigger_type: String,
    pub status: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub requested_by: Option<i64>,
    pub requested_by_name: Option<String>,
    pub listing: String,
}

pub use leadgen_test_support::envelope::{check_fields as check_envelope, expect_envelope};

/// A 422 envelope; the fields of its `errors`, in order, each with a non-empty message.
pub async fn expect_invalid_fields(response: Response) -> Vec<String> {
    let body = expect_envelope(response, StatusCode::UNPROCESSABLE_ENTITY, 422).await;
    let errors = body["errors"].as_array().expect("422 has an errors list");
    errors
        .iter()
        .map(|e| {
            let message = e["message"].as_str().expect("error message");
            assert!(!message.trim().is_empty(), "empty message: {e}");
            e["field"].as_str().expect("error field").to_owned()
        })
        .collect()
}

/// The records of a page envelope, after checking its paging numbers.
pub fn page_records(body: &Value, total: i64, size: i64, current: i64) -> Vec<Value> {
    let data = &body["data"];
    assert_eq!(data["total"], total, "total: {data}");
    assert_eq!(data["size"], size, "size: {data}");
    assert_eq!(data["current"], current, "current: {data}");
    let pages = if total == 0 {
        0
    } else {
        (total + size - 1) / size
    };
    assert_eq!(data["pages"], pages, "pages: {data}");
    data["records"].as_array().expect("records").clone()
}

/// The named field of every record, as i64.
pub fn ids(records: &[Value], field: &str) -> Vec<i64> {
    records
        .iter()
        .map(|r| r[field].as_i64().expect("numeric id"))
        .collect()
}

/// RFC 3339 in UTC with `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A JSON time string as a `DateTime<Utc>`, checking it is UTC with `Z`.
pub fn utc(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a time string");
    assert!(text.ends_with('Z'), "times are UTC with Z: {text}");
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339 time")
        .with_timezone(&Utc)
}

/// `t` without its fraction of a second.
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).expect("a representable time")
}
