//! One lead-api per test with its own database, a client, and the rows order-processor would have
//! written (authorization → sync task → raw order → processed order → lead) inserted directly.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use lead_api::{Application, Settings};
use leadgen_db::PooledConn;
use leadgen_db::schema::{
    t_ecom_order_processed, t_ecom_order_raw, t_ecom_sync_task, t_order_lead,
};
use leadgen_test_support::{
    TestBroker, TestDb, auth_settings, database_settings, http_settings, telemetry_settings,
};
use reqwest::Response;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use leadgen_http::BASE;

/// A query and the ids it should list, in order.
pub type Case<'a> = (&'a [(&'a str, &'a str)], Vec<i64>);
pub const VIEW: &str = "lead:order:view";
pub const AUTH: &str = "lead:order:auth";
pub const SYNC: &str = "lead:order:sync";
pub const PROCESS: &str = "lead:order:process";
pub const CONTACT: &str = "lead:order:contact";

/// Installs the global subscriber and propagator once, as `main` does, so responses carry real
/// trace ids. Only errors are printed; the request spans (target `leadgen_http`) stay enabled
/// because the trace id comes from them.
fn init_telemetry() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let mut settings = telemetry_settings();
        settings.log_filter = "error,leadgen_http=info,lapin=off,pinky_swear=off".into();
        if let Ok(guard) = leadgen_telemetry::init(&settings, "lead-api-tests") {
            // Kept for the whole test binary: dropping it would shut the tracer down.
            let _ = Box::leak(Box::new(guard));
        }
    });
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub db: TestDb,
    /// Its exchanges are deleted when the app is dropped.
    _broker: TestBroker,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _server: JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The service with settings adjusted by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    init_telemetry();
    let db = TestDb::new().await;
    let broker = TestBroker::new(Vec::new());
    let settings = Settings {
        http: http_settings(),
        database: database_settings(&db.url),
        telemetry: telemetry_settings(),
        auth: auth_settings(),
        amqp: broker.settings(),
        outbox: leadgen_test_support::outbox_settings(),
        crypto: leadgen_test_support::crypto_settings(),
        platforms: leadgen_test_support::unreachable_platforms(),
        reveal: lead_api::config::RevealSettings::default(),
    };
    let mut settings = settings;
    customize(&mut settings);
    // No relay, so the events a request writes to `t_outbox` stay there for the test to read.
    let app = Application::build(settings)
        .await
        .expect("build lead-api")
        .without_relay();
    let port = app.port();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        _broker: broker,
        client: reqwest::Client::new(),
        shutdown,
        _server: server,
    }
}

/// A token of `tenant`'s user 7 with `perms`.
pub fn token(tenant: i64, perms: &[&str]) -> String {
    leadgen_test_support::token(tenant, 7, perms)
}

/// A lead to insert; `order_id` must be unique per platform.
pub struct SeedLead<'a> {
    pub tenant: i64,
    pub platform_id: i64,
    pub order_id: &'a str,
    pub contact_masked: &'a str,
    pub contact_kind: &'a str,
    pub product_info: &'a str,
    pub amount_fen: i64,
    pub order_time: DateTime<Utc>,
    pub tags: &'a [&'a str],
    pub score: i16,
    pub process_status: &'a str,
    pub create_time: DateTime<Utc>,
}

impl<'a> SeedLead<'a> {
    pub fn new(tenant: i64, platform_id: i64, order_id: &'a str, order_time: &str) -> Self {
        let order_time: DateTime<Utc> = order_time.parse().expect("order time");
        SeedLead {
            tenant,
            platform_id,
            order_id,
            contact_masked: "138****0001",
            contact_kind: "MASKED",
            product_info: "保温杯 x1",
            amount_fen: 19_900,
            order_time,
            tags: &[],
            score: 50,
            process_status: "PENDING",
            create_time: order_time + Duration::hours(1),
        }
    }
}

/// The sealed column's stand-in: it must never appear in a response.
pub fn sealed_contact(order_id: &str) -> String {
    format!("SEALED-CONTACT-13800000001-{order_id}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{BASE}{path}", self.address)
    }

    /// `GET /leads` with `query` (each pair sent as given, repeated keys included).
    pub async fn leads(&self, token: Option<&str>, query: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(self.url("/leads")).query(query);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send().await.expect("GET /leads")
    }

    /// `GET /leads?<raw query>`, for queries a form encoder would not produce.
    pub async fn leads_raw(&self, token: &str, raw_query: &str) -> Response {
        self.client
            .get(format!("{}?{raw_query}", self.url("/leads")))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /leads")
    }

    pub async fn conn(&self) -> PooledConn {
        leadgen_db::conn(&self.db.pool)
            .await
            .expect("test database connection")
    }

    /// An ACTIVE authorization of `tenant` with one completed sync task; `(platform, task)`.
    pub async fn platform(&self, tenant: i64, platform_type: &str) -> (i64, i64) {
        let platform = self.db.active_shop(tenant, platform_type).await;
        let mut conn = self.conn().await;
        let now = Utc::now();
        let task: i64 = diesel::insert_into(t_ecom_sync_task::table)
            .values((
                t_ecom_sync_task::tenant_id.eq(tenant),
                t_ecom_sync_task::platform_id.eq(platform),
                t_ecom_sync_task::platform_type.eq(platform_type),
                t_ecom_sync_task::trigger_type.eq("MANUAL"),
                t_ecom_sync_task::status.eq("COMPLETED"),
                t_ecom_sync_task::window_start.eq(now - Duration::days(365)),
                t_ecom_sync_task::window_end.eq(now),
            ))
            .returning(t_ecom_sync_task::id)
            .get_result(&mut conn)
            .await
            .expect("insert sync task");
        (platform, task)
    }

    /// Inserts the raw order, the processed order and the lead; the lead's id.
    pub async fn lead(&self, task: i64, platform_type: &str, lead: SeedLead<'_>) -> i64 {
        let mut conn = self.conn().await;
        let raw: i64 = diesel::insert_into(t_ecom_order_raw::table)
            .values((
                t_ecom_order_raw::tenant_id.eq(lead.tenant),
                t_ecom_order_raw::platform_id.eq(lead.platform_id),
                t_ecom_order_raw::platform_type.eq(platform_type),
                t_ecom_order_raw::order_id.eq(lead.order_id),
                t_ecom_order_raw::raw_data.eq("sealed-raw"),
                t_ecom_order_raw::content_hash.eq(format!("hash-{}", lead.order_id)),
                t_ecom_order_raw::sync_task_id.eq(task),
                t_ecom_order_raw::process_status.eq("PROCESSED"),
            ))
            .returning(t_ecom_order_raw::id)
            .get_result(&mut conn)
            .await
            .expect("insert raw order");
        let sealed = sealed_contact(lead.order_id);
        let processed: i64 = diesel::insert_into(t_ecom_order_processed::table)
            .values((
                t_ecom_order_processed::tenant_id.eq(lead.tenant),
                t_ecom_order_processed::platform_id.eq(lead.platform_id),
                t_ecom_order_processed::platform_type.eq(platform_type),
                t_ecom_order_processed::raw_order_id.eq(raw),
                t_ecom_order_processed::order_id.eq(lead.order_id),
                t_ecom_order_processed::status.eq("PAID"),
                t_ecom_order_processed::platform_status.eq("WAIT_SELLER_SEND_GOODS"),
                t_ecom_order_processed::amount_fen.eq(lead.amount_fen),
                t_ecom_order_processed::order_time.eq(lead.order_time),
                t_ecom_order_processed::product_info.eq(lead.product_info),
                t_ecom_order_processed::contact_info.eq(Some(sealed.as_str())),
                t_ecom_order_processed::contact_masked.eq(Some(lead.contact_masked)),
                t_ecom_order_processed::contact_kind.eq(Some(lead.contact_kind)),
            ))
            .returning(t_ecom_order_processed::id)
            .get_result(&mut conn)
            .await
            .expect("insert processed order");
        let tags: Vec<String> = lead.tags.iter().map(|t| (*t).to_owned()).collect();
        // The buyer's aggregate as order-processor computes it (leadgen_domain::buyer).
        let facts = leadgen_domain::buyer::OrderFacts {
            platform_id: lead.platform_id,
            order_id: lead.order_id.to_owned(),
            status: leadgen_domain::NeutralStatus::Paid,
            created_at: lead.order_time,
            paid_at: Some(lead.order_time),
            amount: leadgen_domain::Money::from_fen(lead.amount_fen),
            refunded: false,
            partial_refund: None,
            product: lead.product_info.to_owned(),
        };
        let aggregate = leadgen_domain::buyer::aggregate(&[facts]).expect("one order");
        let validity = leadgen_domain::validity::filter_contact_info(
            &leadgen_domain::ContactField::phone(lead.contact_masked).expect("a contact"),
            lead.order_time,
        );
        let lead_id: i64 = diesel::insert_into(t_order_lead::table)
            .values((
                t_order_lead::tenant_id.eq(lead.tenant),
                t_order_lead::platform_id.eq(lead.platform_id),
                t_order_lead::platform_type.eq(platform_type),
                t_order_lead::order_id.eq(lead.order_id),
                t_order_lead::raw_order_id.eq(raw),
                t_order_lead::processed_order_id.eq(processed),
                t_order_lead::contact_info.eq(&sealed),
                t_order_lead::contact_masked.eq(lead.contact_masked),
                t_order_lead::contact_kind.eq(lead.contact_kind),
                t_order_lead::product_info.eq(lead.product_info),
                t_order_lead::amount_fen.eq(lead.amount_fen),
                t_order_lead::order_time.eq(lead.order_time),
                t_order_lead::intention_tags.eq(tags),
                t_order_lead::score.eq(lead.score),
                t_order_lead::process_status.eq(lead.process_status),
                t_order_lead::create_time.eq(lead.create_time),
                t_order_lead::order_count.eq(1),
                t_order_lead::paid_order_count.eq(1),
                t_order_lead::paid_total_fen.eq(lead.amount_fen),
                t_order_lead::last_order_time.eq(lead.order_time),
                t_order_lead::aggregate.eq(serde_json::to_value(&aggregate).expect("json")),
                t_order_lead::intention.eq(lead.score),
                t_order_lead::score_reasons
                    .eq(serde_json::json!([{"code": "ONE_PURCHASE", "text": "仅购买过1次"}])),
                t_order_lead::model_version.eq(leadgen_domain::scoring::MODEL_VERSION),
                t_order_lead::scored_by.eq("BUILTIN"),
                (
                    t_order_lead::contact_validity.eq(validity.validity.as_str()),
                    t_order_lead::contact_validity_reason
                        .eq(serde_json::to_value(&validity).expect("json")),
                ),
            ))
            .returning(t_order_lead::id)
            .get_result(&mut conn)
            .await
            .expect("insert lead");
        diesel::update(t_ecom_order_processed::table.find(processed))
            .set(t_ecom_order_processed::user_id.eq(lead_id))
            .execute(&mut conn)
            .await
            .expect("link the order to its lead");
        lead_id
    }

    /// Stores `order` as the neutral form of lead `lead_id`'s latest raw order, sealed as
    /// sync-worker seals it.
    pub async fn set_order(&self, lead_id: i64, order: &leadgen_domain::RawOrder) {
        use leadgen_db::schema::t_ecom_order_raw;
        let mut conn = self.conn().await;
        let (raw, platform_id): (i64, i64) = t_order_lead::table
            .find(lead_id)
            .select((t_order_lead::raw_order_id, t_order_lead::platform_id))
            .first(&mut conn)
            .await
            .expect("lead");
        let sealer =
            leadgen_runtime::sealer(&leadgen_test_support::crypto_settings()).expect("key");
        let sealed = sealer
            .seal(
                &leadgen_db::sealed::raw_order(
                    "normalized",
                    leadgen_domain::PlatformId::new(platform_id),
                    &order.order_id,
                ),
                &serde_json::to_string(order).expect("json"),
            )
            .expect("seal");
        diesel::update(t_ecom_order_raw::table.find(raw))
            .set((
                t_ecom_order_raw::normalized.eq(Some(sealed)),
                t_ecom_order_raw::order_id.eq(&order.order_id),
            ))
            .execute(&mut conn)
            .await
            .expect("store the order");
    }

    /// The events waiting in the outbox, as `(routing key, payload)`.
    pub async fn outbox(&self) -> Vec<(String, Value)> {
        use leadgen_db::schema::t_outbox;
        let mut conn = self.conn().await;
        t_outbox::table
            .order(t_outbox::id.asc())
            .select((t_outbox::routing_key, t_outbox::payload))
            .load::<(String, String)>(&mut conn)
            .await
            .expect("outbox")
            .into_iter()
            .map(|(key, payload)| {
                (
                    key,
                    serde_json::from_str(&payload).expect("an event's JSON"),
                )
            })
            .collect()
    }

    /// How many operation-log rows hold `needle` anywhere (every column, `detail` included).
    pub async fn operation_log_rows_holding(&self, needle: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(
            "SELECT count(*) AS n FROM t_operation_log \
             WHERE strpos(row_to_json(t_operation_log)::text, $1) > 0",
        )
        .bind::<diesel::sql_types::Text, _>(needle)
        .get_result::<Count>(&mut self.conn().await)
        .await
        .expect("operation log scan")
        .n
    }

    /// `(action, target ids, result, error)` of the operation log, oldest first.
    pub async fn operation_log(&self) -> Vec<(String, Vec<String>, String, Option<String>)> {
        use leadgen_db::schema::t_operation_log as log;
        let mut conn = self.conn().await;
        log::table
            .order(log::id.asc())
            .select((
                log::action,
                log::target_ids,
                log::result,
                log::error_message,
            ))
            .load(&mut conn)
            .await
            .expect("operation log")
    }
}

pub use leadgen_test_support::envelope::expect_envelope;

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

/// The `leadId` of every record.
pub fn lead_ids(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .map(|r| r["leadId"].as_i64().expect("leadId"))
        .collect()
}
