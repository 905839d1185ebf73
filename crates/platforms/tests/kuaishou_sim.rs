//! The Kuaishou adapter against the platform simulator (the built `platform-sim` binary;
//! `cargo build -p platform-sim` first): the consent flow, and a range walked window by window
//! and cursor by cursor that ends with exactly the orders the simulator holds, with and without
//! faults. Live-stream peaks put more than one page (50 orders) into some windows.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadgen_domain::ContactKind;
use leadgen_platforms::kuaishou::{KuaishouClient, SIGN_SECRET};
use leadgen_platforms::registry::{Endpoint, Transport};
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::{Session, SessionError, TokenSink};
use leadgen_platforms::{
    AppCredentials, PageCursor, PlatformClient, PlatformError, TimeWindow, TokenSet,
};

const APP_KEY: &str = "ks731111111111111111";
const APP_SECRET: &str = "itKuaishouAppSecret";
const SIGN: &str = "itKuaishouSignSecret";
const REDIRECT: &str = "http://127.0.0.1:1/callback";

struct Sim {
    child: Child,
    port: u16,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim(args: &[&str]) -> Sim {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/platform-sim");
    assert!(
        bin.exists(),
        "build the simulator first: cargo build -p platform-sim"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(bin)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--seed",
            "11",
            "--orders-per-shop",
            "2000",
        ])
        .args(["--app", &format!("KUAISHOU={APP_KEY}:{APP_SECRET}:{SIGN}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn platform-sim");
    // The guard owns the child from here on: a panic below still kills and reaps it.
    let sim = Sim { child, port };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return sim;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("platform-sim did not start");
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/kuaishou{path}", self.port)
    }

    fn client(&self) -> KuaishouClient {
        KuaishouClient::new(
            Transport::new(Endpoint {
                api_url: self.url(""),
                authorize_url: self.url("/oauth/authorize"),
                token_url: self.url("/oauth2/access_token"),
                qps: 50,
                timeout: Duration::from_secs(5),
            })
            .expect("transport"),
        )
    }

    /// The merchant approves on the consent page; returns the code from the redirect.
    async fn approve(&self, consent_url: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http");
        let page = http
            .get(consent_url)
            .send()
            .await
            .expect("consent page")
            .text()
            .await
            .expect("html");
        assert!(page.contains("<form"), "{page}");
        let query = consent_url.split_once('?').expect("query").1;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let answer = http
            .post(self.url("/oauth/authorize"))
            .form(&fields)
            .send()
            .await
            .expect("approve");
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        let parsed = url::Url::parse(&location).expect("url");
        parsed
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
            .into_owned()
    }

    async fn order_ids(&self, window: &TimeWindow) -> BTreeSet<String> {
        let url = format!(
            "http://127.0.0.1:{}/_sim/kuaishou/orders?app_key={APP_KEY}&start={}&end={}",
            self.port,
            window
                .start
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            window
                .end
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body["order_ids"]
            .as_array()
            .expect("order_ids")
            .iter()
            .map(|t| t.as_str().expect("order id").to_owned())
            .collect()
    }
}

/// The app with `secret` as its app secret and `sign` as its signSecret.
fn app_with(secret: &str, sign: &str) -> AppCredentials {
    let mut app = AppCredentials::new(APP_KEY, secret);
    app.extra.insert(SIGN_SECRET.into(), sign.into());
    app
}

fn app(secret: &str) -> AppCredentials {
    app_with(secret, SIGN)
}

#[derive(Default)]
struct Sink(Mutex<Vec<TokenSet>>);

#[async_trait::async_trait]
impl TokenSink for Sink {
    async fn store(&self, tokens: &TokenSet) -> Result<(), String> {
        self.0.lock().expect("lock").push(tokens.clone());
        Ok(())
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 8,
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    }
}

fn last_days(days: i64) -> TimeWindow {
    let end: DateTime<Utc> = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now");
    TimeWindow::new(end - chrono::Duration::days(days), end)
}

async fn authorized(sim: &Sim, client: &KuaishouClient) -> TokenSet {
    let consent = client.authorize_url(&app(APP_SECRET), REDIRECT, "s-1");
    let code = sim.approve(&consent).await;
    let tokens = client
        .exchange_code(&app(APP_SECRET), &code, REDIRECT)
        .await
        .expect("tokens");
    assert!(tokens.shop_id.is_some() && tokens.refresh_token.is_some());
    // A code is single-use.
    let again = client
        .exchange_code(&app(APP_SECRET), &code, REDIRECT)
        .await;
    assert!(
        matches!(again, Err(PlatformError::AuthRefused(_))),
        "{again:?}"
    );
    tokens
}

/// What a walk saw.
#[derive(Default)]
struct Walk {
    ids: BTreeSet<String>,
    /// Orders fetched (with repeats, if any).
    seen: usize,
    malformed: usize,
    windows: usize,
    pages: usize,
    virtual_phones: usize,
    encrypted_phones: usize,
}

/// Walks `range` as sync-worker does, window by window and page by page.
async fn walk(
    client: &KuaishouClient,
    session: &mut Session,
    range: TimeWindow,
    sink: &Sink,
) -> Result<Walk, SessionError> {
    let mut w = Walk::default();
    for window in client.windows(range, Utc::now()) {
        w.windows += 1;
        let mut cursor: Option<PageCursor> = None;
        loop {
            let page = session
                .list_orders(client, &window, cursor.as_ref(), sink)
                .await?;
            w.pages += 1;
            for order in &page.orders {
                w.seen += 1;
                match &order.parsed {
                    Ok(parsed) => {
                        let kind = parsed.receiver.phone.as_ref().map(|p| p.kind);
                        w.virtual_phones += usize::from(kind == Some(ContactKind::Virtual));
                        w.encrypted_phones +=
                            usize::from(kind == Some(ContactKind::PlatformEncrypted));
                    }
                    Err(_) => w.malformed += 1,
                }
                w.ids.insert(order.order_id.clone().expect("order id"));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(w)
}

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = sim(&[]);
    let client = sim.client();
    let tokens = authorized(&sim, &client).await;
    let mut session = Session::new(
        app(APP_SECRET),
        tokens.access_token,
        tokens.refresh_token,
        fast(),
    );
    let range = last_days(20);
    let sink = Sink::default();
    let w = walk(&client, &mut session, range, &sink)
        .await
        .expect("walk");
    let expected = sim.order_ids(&range).await;
    assert!(expected.len() > 300, "{}", expected.len());
    assert_eq!(w.ids, expected, "every order, once");
    assert_eq!(w.seen, expected.len(), "no order fetched twice");
    assert_eq!(w.malformed, 0);
    assert!(w.pages > w.windows, "some window had more than one page");
    assert!(w.encrypted_phones > 0 && w.virtual_phones > 0);
    assert!(sink.0.lock().expect("lock").is_empty(), "no refresh needed");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    // Throttling above 4 QPS, tokens expiring every 5 calls, two 503s after every 6 calls, every
    // 9th listing truncated, 10 ms per call.
    let sim = sim(&[
        "--qps-limit",
        "4",
        "--token-ttl-calls",
        "5",
        "--error-burst",
        "6:2:503",
        "--malformed-every",
        "9",
        "--delay-ms",
        "10",
    ]);
    let client = sim.client();
    let tokens = authorized(&sim, &client).await;
    let mut session = Session::new(
        app(APP_SECRET),
        tokens.access_token,
        tokens.refresh_token,
        fast(),
    );
    let range = last_days(10);
    let sink = Sink::default();
    let w = walk(&client, &mut session, range, &sink)
        .await
        .expect("walk under faults");
    assert_eq!(w.ids, sim.order_ids(&range).await);
    assert_eq!(w.seen, w.ids.len(), "no order fetched twice");
    assert!(
        !sink.0.lock().expect("lock").is_empty(),
        "tokens expired mid-run and were refreshed"
    );
    let stats: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{}/_sim/stats", sim.port))
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
    let kuaishou = &stats["platforms"]["kuaishou"];
    for code in ["17", "24"] {
        assert!(
            kuaishou["api_errors_by_code"][code].as_u64().unwrap_or(0) > 0,
            "the simulator answered code {code}: {stats}"
        );
    }
    assert!(
        kuaishou["http_faults_by_status"]["503"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert!(kuaishou["malformed_responses"].as_u64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = sim(&[]);
    let client = sim.client();
    let tokens = authorized(&sim, &client).await;
    let range = last_days(2);
    let sink = Sink::default();

    // Signed with the app secret instead of the signSecret.
    let mut wrong = Session::new(
        app_with(APP_SECRET, APP_SECRET),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        fast(),
    );
    let started = std::time::Instant::now();
    let err = walk(&client, &mut wrong, range, &sink)
        .await
        .err()
        .expect("bad signature");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("result 16")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a bad signature is not retried"
    );
    // OAuth takes the app secret, not the signSecret.
    let consent = client.authorize_url(&app(APP_SECRET), REDIRECT, "s-2");
    let code = sim.approve(&consent).await;
    let refused = client.exchange_code(&app(SIGN), &code, REDIRECT).await;
    assert!(
        matches!(refused, Err(PlatformError::AuthRefused(ref m)) if m.contains("invalid_client")),
        "{refused:?}"
    );

    let mut dead = Session::new(app(APP_SECRET), "not-a-session".into(), None, fast());
    let err = walk(&client, &mut dead, range, &sink)
        .await
        .err()
        .expect("invalid session");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A dead session whose refresh token is dead too.
    let mut dead = Session::new(
        app(APP_SECRET),
        "not-a-session".into(),
        Some("not-a-refresh-token".into()),
        fast(),
    );
    let err = walk(&client, &mut dead, range, &sink)
        .await
        .err()
        .expect("refused refresh");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");
}
