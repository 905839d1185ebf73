//! Driving the system like a front end and a merchant's browser would, through the gateway.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use leadgen_e2e::system::{System, app_for};
use serde_json::{Value, json};

const BASE: &str = "/api/v1/lead-generation/orders";
const ALL: [&str; 5] = [
    "lead:order:auth",
    "lead:order:sync",
    "lead:order:view",
    "lead:order:contact",
    "lead:order:audit",
];

pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(system: &System, tenant: i64) -> Api {
        Api {
            http: system.http.clone(),
            base: system.url(BASE),
            token: leadgen_test_support::token(tenant, 7, &ALL),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        r.json().await.expect("JSON envelope")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("POST");
        r.json().await.expect("JSON envelope")
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("PUT");
        r.json().await.expect("JSON envelope")
    }

    /// Adds a Taobao authorization and approves it (see [`Api::authorize`]).
    pub async fn authorize_on_consent_page(&self, system: &System) -> i64 {
        self.authorize(system, "TAOBAO").await
    }

    /// Adds an authorization for `platform`, approves it on the simulator's consent page as a
    /// merchant's browser would, and follows the redirect to our callback through the gateway.
    pub async fn authorize(&self, system: &System, platform: &str) -> i64 {
        self.authorize_as(system, platform, None).await
    }

    /// [`Api::authorize`], logging into the consent page as `seller` (the simulator's default
    /// seller when `None`): one app, the shop of whoever logs in.
    pub async fn authorize_as(&self, system: &System, platform: &str, seller: Option<&str>) -> i64 {
        let (_, _, auth_info) = app_for(platform);
        let (platform_id, done) = self
            .approve_on_consent_page(system, platform, seller, auth_info)
            .await;
        assert_eq!(done["data"]["status"], "ACTIVE", "{done}");
        let listed = self
            .get(&format!("/platforms?platformType={platform}&status=ACTIVE"))
            .await;
        assert_eq!(
            listed["data"]["records"][0]["platformId"], platform_id,
            "{listed}"
        );
        assert!(listed["data"]["records"][0].get("authInfo").is_none());
        platform_id
    }

    /// Adds an authorization with `auth_info`, approves it on the consent page as `seller`
    /// and follows the redirect to our callback: the new record's id and the callback's answer.
    pub async fn approve_on_consent_page(
        &self,
        system: &System,
        platform: &str,
        seller: Option<&str>,
        auth_info: Value,
    ) -> (i64, Value) {
        let body = json!({"platformType": platform, "authInfo": auth_info});
        let r = self
            .http
            .post(format!("{}/platforms/auth", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("POST auth");
        assert_eq!(r.status(), 201);
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("Location");
        let created: Value = r.json().await.expect("JSON");
        let platform_id = created["data"]["platformId"].as_i64().expect("platformId");
        assert_eq!(location, format!("{BASE}/platforms/{platform_id}"));
        assert_eq!(created["data"]["status"], "PENDING_AUTH");
        let auth_url = created["data"]["authUrl"].as_str().expect("authUrl");
        let consent_path = format!("/{}/", platform.to_ascii_lowercase());
        assert!(
            auth_url.starts_with(&system.sim_url(&consent_path)),
            "{auth_url}"
        );

        let page = self
            .http
            .get(auth_url)
            .send()
            .await
            .expect("consent page")
            .text()
            .await
            .expect("HTML");
        let (action, mut fields) = parse_form(&page);
        if let Some(seller) = seller {
            let field = fields
                .iter_mut()
                .find(|(name, _)| name == "seller")
                .expect("the consent page asks who logs in");
            field.1 = seller.to_owned();
        }
        let approve = self
            .http
            .post(system.sim_url(&action))
            .form(&fields)
            .send()
            .await
            .expect("approve");
        assert_eq!(approve.status(), 302);
        let callback = approve
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("redirect")
            .to_owned();
        assert!(
            callback.starts_with(&system.url(&format!("{BASE}/platforms/auth/callback?"))),
            "{callback}"
        );
        let done: Value = self
            .http
            .get(&callback)
            .send()
            .await
            .expect("callback")
            .json()
            .await
            .expect("JSON");
        (platform_id, done)
    }

    pub async fn simulator_order_ids(
        &self,
        system: &System,
        start: &str,
        end: &str,
    ) -> BTreeSet<String> {
        self.simulator_orders_of(system, "TAOBAO", start, end).await
    }

    /// The orders the simulator's listing API holds for `platform`'s app in the range.
    pub async fn simulator_orders_of(
        &self,
        system: &System,
        platform: &str,
        start: &str,
        end: &str,
    ) -> BTreeSet<String> {
        let (key, ..) = app_for(platform);
        let name = platform.to_ascii_lowercase();
        let (from, to, list) = if platform == "TAOBAO" {
            ("start_created", "end_created", "tids")
        } else {
            ("start", "end", "order_ids")
        };
        let url = system.sim_url(&format!(
            "/_sim/{name}/orders?app_key={key}&{from}={}&{to}={}",
            urlencoding::encode(start),
            urlencoding::encode(end)
        ));
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("sim admin")
            .json()
            .await
            .expect("JSON");
        body[list]
            .as_array()
            .expect("order ids")
            .iter()
            .map(|t| t.as_str().expect("id").to_owned())
            .collect()
    }

    /// What the simulator's buyer of `order_id` really has (`mobile`, `privacy_number`).
    pub async fn simulator_contact(
        &self,
        system: &System,
        platform: &str,
        order_id: &str,
    ) -> Value {
        let (key, ..) = app_for(platform);
        let url = system.sim_url(&format!(
            "/_sim/{}/contact?app_key={key}&order_id={order_id}",
            platform.to_ascii_lowercase()
        ));
        self.http
            .get(url)
            .send()
            .await
            .expect("sim contact")
            .json()
            .await
            .expect("JSON")
    }

    pub async fn request_sync(&self, platform_id: i64, start: &str, end: &str) -> i64 {
        let r = self
            .post(
                &format!("/platforms/{platform_id}/sync"),
                json!({"startTime": start, "endTime": end}),
            )
            .await;
        assert_eq!(r["data"]["status"], "ACCEPTED", "{r}");
        r["data"]["syncTaskId"].as_i64().expect("syncTaskId")
    }

    pub async fn wait_for_task(&self, task_id: i64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let page = self
                .get("/sync-records?size=100&sort=syncTime&order=desc")
                .await;
            let record = page["data"]["records"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x["syncId"] == task_id).cloned());
            if let Some(record) = record.filter(|r| r["status"] != "RUNNING") {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "sync task {task_id} did not finish: {page}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn all_leads(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 1.. {
            let body = self
                .get(&format!(
                    "/leads?size=100&page={page}&sort=orderTime&order=asc"
                ))
                .await;
            let records = body["data"]["records"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let done = records.len() < 100;
            out.extend(records);
            if done {
                break;
            }
        }
        out
    }
}

/// The consent page's one form: its action and hidden fields.
fn parse_form(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(
            tag[start..end]
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        )
    };
    let form_start = html.find("<form").expect("a form");
    let form_tag = &html[form_start..html[form_start..].find('>').expect("form tag") + form_start];
    let action = attr(form_tag, "action").expect("form action");
    let mut fields = Vec::new();
    let mut rest = &html[form_start..];
    while let Some(i) = rest.find("<input") {
        let end = rest[i..].find('>').expect("input tag") + i;
        let tag = &rest[i..end];
        if let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    assert_eq!(
        html.matches("<form").count(),
        1,
        "the consent page has exactly one form"
    );
    (action, fields)
}

/// The last `days` days up to now, whole seconds, UTC.
pub fn window_days(days: i64) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let fmt = |secs: i64| {
        let days_since = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil(days_since);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    };
    (fmt(now - days * 86_400), fmt(now))
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct OrderId {
    #[diesel(sql_type = Text)]
    order_id: String,
}

async fn db(system: &System) -> AsyncPgConnection {
    AsyncPgConnection::establish(&system.db.url)
        .await
        .expect("connect")
}

pub async fn scalar(system: &System, sql: &str) -> i64 {
    let rows: Vec<Count> = diesel::sql_query(sql)
        .load(&mut db(system).await)
        .await
        .expect(sql);
    rows.into_iter().next().map_or(0, |c| c.n)
}

/// Waits until the outboxes are empty and no raw order waits for processing.
pub async fn wait_until_settled(system: &System) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending = scalar(system, "SELECT (SELECT count(*) FROM t_outbox) + (SELECT count(*) FROM t_ecom_order_raw WHERE process_status = 'PENDING') AS n").await;
        if pending == 0 {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "{pending} events or raw orders still pending\n{}",
                unsettled(system).await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// [`wait_until_settled`], once every shop's rescore is done too (order-processor rescores a
/// shop `rescore_settle_ms` after its last batch, raising its leads' versions and queueing
/// `lead.updated`): for a test that compares the whole state before and after something.
pub async fn wait_until_rescored(system: &System) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let dirty = scalar(
            system,
            "SELECT count(*) AS n FROM t_lead_shop_stats WHERE dirty_seq > rescored_seq",
        )
        .await;
        if dirty == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{dirty} shops still to rescore\n{}",
            unsettled(system).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The rescore's own events, committed with it.
    wait_until_settled(system).await;
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// What is still pending and why: the outbox by producer and event, the raw orders by status,
/// and the tails of the two workers' logs.
async fn unsettled(system: &System) -> String {
    let sql = "SELECT format('outbox %s %s: %s rows, %s attempts at most, last error %s', \
               producer, routing_key, count(*), max(attempts), max(last_error)) AS line \
               FROM t_outbox GROUP BY producer, routing_key \
               UNION ALL SELECT format('raw orders %s: %s', process_status, count(*)) \
               FROM t_ecom_order_raw GROUP BY process_status";
    let lines: Vec<Line> = diesel::sql_query(sql)
        .load(&mut db(system).await)
        .await
        .unwrap_or_default();
    let mut out: Vec<String> = lines.into_iter().map(|l| l.line).collect();
    for name in ["sync-worker", "order-processor"] {
        let text =
            std::fs::read_to_string(system.dir.join(format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        out.push(format!("--- {name}.log, last lines:"));
        out.extend(tail.into_iter().rev().map(str::to_owned));
    }
    out.join("\n")
}

pub async fn stored_order_ids(system: &System, platform_id: i64) -> BTreeSet<String> {
    let sql = format!("SELECT order_id FROM t_ecom_order_raw WHERE platform_id = {platform_id}");
    let rows: Vec<OrderId> = diesel::sql_query(sql)
        .load(&mut db(system).await)
        .await
        .expect("raw orders");
    let ids: Vec<String> = rows.into_iter().map(|r| r.order_id).collect();
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "an order is stored twice");
    set
}

/// Row counts that a duplicate message must not change.
pub async fn counts(system: &System) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "t_ecom_order_raw",
        "t_ecom_order_processed",
        "t_order_lead",
        "t_outbox",
    ] {
        out.push(scalar(system, &format!("SELECT count(*) AS n FROM {table}")).await);
    }
    out.push(
        scalar(
            system,
            "SELECT count(*) AS n FROM t_processed_message WHERE consumer = 'order-processor'",
        )
        .await,
    );
    // And what the leads say: a lead rebuilt again in place keeps the counts, not these.
    out.push(
        scalar(
            system,
            "SELECT coalesce(sum(hashtext(concat_ws(':', id, version, score, intention, \
             update_time))), 0) AS n FROM t_order_lead",
        )
        .await,
    );
    out
}
