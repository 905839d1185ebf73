//! What every platform's tests share: the simulator process (on a free port, killed and reaped on
//! drop), the merchant's approval on the consent page, the simulator's own list of the orders it
//! holds, a token sink that records refreshes, and a range walked as sync-worker walks it. Where
//! the platforms differ, [`Platform`] says how.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadgen_domain::{ContactKind, RawOrder};
use leadgen_platforms::kuaishou::SIGN_SECRET;
use leadgen_platforms::registry::{Endpoint, Transport};
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_platforms::session::{Session, SessionError, TokenSink};
use leadgen_platforms::{
    AppCredentials, Listing, PageCursor, PlatformClient, PlatformError, TimeWindow, TokenSet,
};

/// Throttling above 4 QPS, tokens expiring every 5 calls, two 503s after every 6 calls, every
/// 9th listing truncated, every 7th listing answered with a code the platform documents
/// nowhere, every 5th with its documented "service unavailable", 10 ms per call.
pub const EVERY_FAULT: &[&str] = &[
    "--unknown-code-every",
    "7",
    "--busy-every",
    "5",
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
];

/// [`EVERY_FAULT`] with `flag`'s value replaced by `value`.
pub fn every_fault_but(flag: &str, value: &'static str) -> Vec<&'static str> {
    let mut args = EVERY_FAULT.to_vec();
    let at = args
        .iter()
        .position(|a| *a == flag)
        .unwrap_or_else(|| panic!("{flag} is not among EVERY_FAULT's flags"));
    args[at + 1] = value;
    args
}

/// One platform as the simulator serves it and as its tests drive it.
pub struct Platform<C> {
    /// The simulator's path prefix (`/{name}/...`), admin path (`/_sim/{name}/...`) and key in
    /// `/_sim/stats`; upper-cased, the platform in `--app`.
    pub name: &'static str,
    pub app_key: &'static str,
    pub app_secret: &'static str,
    /// A second secret that signs API calls (Kuaishou's signSecret): given to the simulator after
    /// the app secret, and put in the credentials' extras.
    pub sign_secret: Option<&'static str>,
    /// The consent page's service (Douyin's `serviceId`, required there): put in the
    /// credentials' extras. The simulator takes the app key as the service id.
    pub service_id: Option<&'static str>,
    pub redirect: &'static str,
    pub orders_per_shop: u32,
    /// The API gateway, under the platform prefix.
    pub api_path: &'static str,
    /// The consent page, under the platform prefix; the merchant's approval is posted back to it.
    pub authorize_path: &'static str,
    /// The token endpoint, under the platform prefix.
    pub token_path: &'static str,
    pub consent: Consent,
    pub admin: Admin,
    /// Whether the token answer must carry an expiry in the future.
    pub tokens_expire: bool,
    pub client: fn(Transport) -> C,
}

/// What the consent page must hold.
pub enum Consent {
    /// A form.
    Form,
    /// Exactly one form.
    OneForm,
}

/// The simulator's admin list of the test app's orders: the query parameters that bound the
/// window, and the field that holds the ids.
pub struct Admin {
    pub start: &'static str,
    pub end: &'static str,
    pub ids: &'static str,
}

/// The admin list of every platform but Taobao.
pub const ORDER_IDS: Admin = Admin {
    start: "start",
    end: "end",
    ids: "order_ids",
};

impl<C> Platform<C> {
    /// The test app's credentials with `secret` as the app secret (and the sign secret, if any).
    pub fn app(&self, secret: &str) -> AppCredentials {
        let mut app = AppCredentials::new(self.app_key, secret);
        if let Some(sign) = self.sign_secret {
            app.extra.insert(SIGN_SECRET.into(), sign.into());
        }
        if let Some(service) = self.service_id {
            app.extra.insert("serviceId".into(), service.into());
        }
        app
    }
}

/// The running simulator; dropping it kills and reaps the process.
pub struct Sim<C: 'static> {
    child: Child,
    port: u16,
    platform: &'static Platform<C>,
}

impl<C: 'static> Drop for Sim<C> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl<C: PlatformClient + 'static> Sim<C> {
    /// Starts the built `platform-sim` with the test app of `platform` and `args` on a free port.
    pub fn start(platform: &'static Platform<C>, args: &[&str]) -> Self {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/platform-sim");
        assert!(
            bin.exists(),
            "build the simulator first: cargo build -p platform-sim"
        );
        let mut app = format!(
            "{}={}:{}",
            platform.name.to_uppercase(),
            platform.app_key,
            platform.app_secret
        );
        if let Some(sign) = platform.sign_secret {
            app = format!("{app}:{sign}");
        }
        let orders = platform.orders_per_shop.to_string();
        // The simulator binds a port of its own choosing and says which: no other test can
        // take it between a probe and the bind.
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0"])
            .args(["--seed", "11", "--orders-per-shop", &orders])
            .args(["--app", &app])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn platform-sim");
        let stdout = child.stdout.take();
        // The guard owns the child from here on: a panic below still kills and reaps it.
        let mut sim = Sim {
            child,
            port: 0,
            platform,
        };
        let mut stdout = std::io::BufReader::new(stdout.expect("the simulator's stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("the simulator's first line");
        sim.port = line
            .trim()
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("platform-sim did not start: {line:?}"));
        // Whatever it writes later must not fill the pipe and stall it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        sim
    }

    /// `path` on the simulator, from its root.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `path` under the platform's prefix.
    fn platform_url(&self, path: &str) -> String {
        self.url(&format!("/{}{path}", self.platform.name))
    }

    pub fn app(&self, secret: &str) -> AppCredentials {
        self.platform.app(secret)
    }

    pub fn client(&self) -> C {
        (self.platform.client)(
            Transport::new(Endpoint {
                api_url: self.platform_url(self.platform.api_path),
                authorize_url: self.platform_url(self.platform.authorize_path),
                token_url: self.platform_url(self.platform.token_path),
                qps: 50,
                timeout: Duration::from_secs(5),
            })
            .expect("transport"),
        )
    }

    /// The merchant approves on the consent page; returns the code from the redirect.
    pub async fn approve(&self, consent_url: &str) -> String {
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
        match self.platform.consent {
            Consent::Form => assert!(page.contains("<form"), "{page}"),
            Consent::OneForm => assert_eq!(page.matches("<form").count(), 1, "{page}"),
        }
        let query = consent_url.split_once('?').expect("query").1;
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let answer = http
            .post(self.platform_url(self.platform.authorize_path))
            .form(&fields)
            .send()
            .await
            .expect("approve");
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(self.platform.redirect), "{location}");
        let parsed = url::Url::parse(&location).expect("url");
        parsed
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
            .into_owned()
    }

    /// The ids of the orders the simulator holds for the test app in `window`.
    pub async fn order_ids(&self, window: &TimeWindow) -> BTreeSet<String> {
        let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let Admin { start, end, ids } = self.platform.admin;
        let url = self.url(&format!(
            "/_sim/{}/orders?app_key={}&{start}={}&{end}={}",
            self.platform.name,
            self.platform.app_key,
            iso(window.start),
            iso(window.end)
        ));
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("admin")
            .json()
            .await
            .expect("json");
        body[ids]
            .as_array()
            .expect(ids)
            .iter()
            .map(|t| t.as_str().expect("order id").to_owned())
            .collect()
    }

    /// What the simulator says order `order_id`'s receiver phone really is:
    /// `{"mobile", "privacy_number": {"number", "extension"} | null}`.
    pub async fn contact(&self, order_id: &str) -> serde_json::Value {
        let url = self.url(&format!(
            "/_sim/{}/contact?app_key={}&order_id={order_id}",
            self.platform.name, self.platform.app_key
        ));
        let reply = reqwest::get(url).await.expect("contact view");
        assert!(reply.status().is_success(), "{}", reply.status());
        reply.json().await.expect("json")
    }

    /// How many calls of `method` the simulator's API gateway received.
    pub async fn calls_of(&self, method: &str) -> u64 {
        let stats = self.stats().await;
        stats["platforms"][self.platform.name]["api_calls_by_method"][method]
            .as_u64()
            .unwrap_or(0)
    }

    /// How many API calls of any method the simulator's gateway received.
    pub async fn total_calls(&self) -> u64 {
        let stats = self.stats().await;
        stats["platforms"][self.platform.name]["api_calls"]
            .as_u64()
            .expect("the simulator counts every call")
    }

    /// The simulator's counters.
    pub async fn stats(&self) -> serde_json::Value {
        reqwest::get(self.url("/_sim/stats"))
            .await
            .expect("stats")
            .json()
            .await
            .expect("json")
    }

    /// A shop's tokens through the consent flow; checks that the code is single-use.
    pub async fn authorized(&self, client: &C) -> TokenSet {
        let (secret, redirect) = (self.platform.app_secret, self.platform.redirect);
        let consent = client.authorize_url(&self.app(secret), redirect, "s-1");
        let code = self.approve(&consent).await;
        let tokens = client
            .exchange_code(&self.app(secret), &code, redirect)
            .await
            .expect("tokens");
        assert!(tokens.shop_id.is_some() && tokens.refresh_token.is_some());
        if self.platform.tokens_expire {
            assert!(tokens.expires_at.is_some_and(|t| t > Utc::now()));
        }
        let again = client
            .exchange_code(&self.app(secret), &code, redirect)
            .await;
        // Refused: as a refused grant where the platform documents the answer, else as an
        // unknown code (JD documents no OAuth error code).
        assert!(
            matches!(
                again,
                Err(PlatformError::AuthRefused(_) | PlatformError::Unknown { .. })
            ),
            "a code is single-use: {again:?}"
        );
        tokens
    }

    /// Walks `range` with a session on the right secret and these tokens.
    pub async fn walk_with(
        &self,
        client: &C,
        access_token: &str,
        refresh_token: Option<&str>,
        range: TimeWindow,
        sink: &Sink,
    ) -> Result<Walk, SessionError> {
        let mut session = Session::new(
            self.app(self.platform.app_secret),
            access_token.into(),
            refresh_token.map(Into::into),
            fast(),
        );
        walk(client, &mut session, range, sink).await
    }

    /// A consent, then a walk of the last 20 days that yields every order of the range once and
    /// needs no refresh; at least `at_least` orders. The walk, for the platform's own checks.
    pub async fn yields_exactly(&self, at_least: usize) -> Walk {
        let range = last_days(20);
        let sink = Sink::default();
        let w = self.authorize_and_walk(range, &sink).await.expect("walk");
        let expected = self.order_ids(&range).await;
        assert!(expected.len() > at_least, "{}", expected.len());
        assert_eq!(w.ids, expected, "every order of the range, once");
        assert_eq!(w.seen, expected.len(), "no order fetched twice");
        assert_eq!(w.malformed, 0);
        assert!(sink.is_empty(), "no refresh needed");
        w
    }

    /// A walk of the last 10 days on a simulator started with [`EVERY_FAULT`]: every order once,
    /// tokens refreshed on the way, and the simulator answered each of `codes`. Its counters of
    /// this platform, for the platform's own checks.
    pub async fn survives_every_fault(&self, codes: &[&str]) -> serde_json::Value {
        let range = last_days(10);
        let sink = Sink::default();
        let w = self
            .authorize_and_walk(range, &sink)
            .await
            .expect("walk under faults");
        assert_eq!(w.ids, self.order_ids(&range).await);
        assert_eq!(w.seen, w.ids.len(), "no order fetched twice");
        assert!(
            !sink.is_empty(),
            "tokens expired mid-run and were refreshed"
        );
        let stats = self.stats().await;
        let platform = stats["platforms"][self.platform.name].clone();
        assert!(
            platform["busy_responses"].as_u64().unwrap_or(0) > 0,
            "the simulator answered its documented \"service unavailable\": {stats}"
        );
        for code in codes {
            assert!(
                platform["api_errors_by_code"][code].as_u64().unwrap_or(0) > 0,
                "the simulator answered code {code}: {stats}"
            );
        }
        platform
    }

    /// A session on these tokens whose requests are signed with `secret` (a wrong one).
    pub fn session_signed_with(&self, secret: &str, tokens: &TokenSet) -> Session {
        Session::new(
            self.app(secret),
            tokens.access_token.clone(),
            tokens.refresh_token.clone(),
            fast(),
        )
    }

    /// Walks the last 2 days on a session the platform does not know (`access_token`, and
    /// `refresh_token` if any): the error it ends with.
    pub async fn dead_session(
        &self,
        client: &C,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> SessionError {
        self.walk_with(
            client,
            access_token,
            refresh_token,
            last_days(2),
            &Sink::default(),
        )
        .await
        .expect_err("a dead session")
    }

    /// An order listed awaiting payment, then paid on the platform (`PAY`), is listed again by
    /// modification time as paid, with its payment time: the change a sync by modification time
    /// must bring to the buyer's lead.
    pub async fn lists_a_later_payment(&self) {
        let client = self.client();
        let tokens = self.authorized(&client).await;
        let sink = Sink::default();
        let walk_modified = |range: TimeWindow| {
            let mut session = Session::new(
                self.app(self.platform.app_secret),
                tokens.access_token.clone(),
                tokens.refresh_token.clone(),
                fast(),
            );
            let client = &client;
            let sink = &sink;
            async move {
                walk_by(client, &mut session, range, Listing::Modified, sink)
                    .await
                    .expect("walk")
            }
        };
        let before = walk_modified(last_days(3)).await;
        let unpaid = before
            .orders
            .iter()
            .find(|o| o.status == leadgen_domain::NeutralStatus::Unpaid)
            .expect("an order awaiting payment in the last days")
            .clone();
        let answer = reqwest::Client::new()
            .post(self.url(&format!("/_sim/{}/orders/change", self.platform.name)))
            .json(&serde_json::json!({
                "app_key": self.platform.app_key,
                "order_id": unpaid.order_id,
                "change": "PAY",
            }))
            .send()
            .await
            .expect("change");
        assert!(answer.status().is_success(), "{}", answer.status());
        let now = Utc::now();
        let after = walk_modified(TimeWindow::new(now - chrono::Duration::minutes(5), now)).await;
        let paid = after
            .orders
            .iter()
            .find(|o| o.order_id == unpaid.order_id)
            .expect("listed again in the window of its payment");
        assert_eq!(paid.status, leadgen_domain::NeutralStatus::Paid, "{paid:?}");
        assert!(
            paid.paid_at
                .is_some_and(|t| t > now - chrono::Duration::minutes(5)),
            "{paid:?}"
        );
    }

    /// Once every total counts one order the platform never lists (the `overstate_total`
    /// fault), both listings still walk without an error and read what they read before: the
    /// window's last page, empty though its total counts an order on it, is read as empty (the
    /// sync's count of what it read against the total warns). A window holding no order (before
    /// the simulator's first) says 1, and its only page is empty.
    pub async fn walks_past_an_overstated_total(&self) {
        let client = self.client();
        let tokens = self.authorized(&client).await;
        let sink = Sink::default();
        let now = Utc::now();
        let before_any = TimeWindow::new(
            now - chrono::Duration::days(84),
            now - chrono::Duration::days(83),
        );
        let walks = || async {
            let mut read = Vec::new();
            for listing in [Listing::Created, Listing::Modified] {
                for range in [last_days(3), before_any] {
                    let mut session = Session::new(
                        self.app(self.platform.app_secret),
                        tokens.access_token.clone(),
                        tokens.refresh_token.clone(),
                        fast(),
                    );
                    let w = walk_by(&client, &mut session, range, listing, &sink)
                        .await
                        .unwrap_or_else(|e| panic!("{listing:?} over {range:?}: {e:?}"));
                    read.push(w.ids);
                }
            }
            read
        };
        let honest = walks().await;
        assert!(!honest[0].is_empty() && honest[1].is_empty(), "{honest:?}");
        let answer = reqwest::Client::new()
            .post(self.url("/_sim/faults"))
            .json(&serde_json::json!({"overstate_total": true}))
            .send()
            .await
            .expect("faults");
        assert!(answer.status().is_success(), "{}", answer.status());
        assert_eq!(walks().await, honest);
    }

    /// Authorizes a shop and walks `range` with its session.
    pub async fn authorize_and_walk(
        &self,
        range: TimeWindow,
        sink: &Sink,
    ) -> Result<Walk, SessionError> {
        let client = self.client();
        let tokens = self.authorized(&client).await;
        let refresh_token = tokens.refresh_token.as_deref();
        self.walk_with(&client, &tokens.access_token, refresh_token, range, sink)
            .await
    }
}

/// Records the tokens a session refreshed.
#[derive(Default)]
pub struct Sink(Mutex<Vec<TokenSet>>);

impl Sink {
    /// No tokens were refreshed.
    pub fn is_empty(&self) -> bool {
        self.0.lock().expect("lock").is_empty()
    }
}

#[async_trait::async_trait]
impl TokenSink for Sink {
    async fn store(
        &self,
        tokens: &TokenSet,
        _: &str,
    ) -> Result<(), leadgen_platforms::session::StoreError> {
        self.0.lock().expect("lock").push(tokens.clone());
        Ok(())
    }
}

pub fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 8,
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
        max_stated_wait: Duration::from_secs(16),
    }
}

pub fn last_days(days: i64) -> TimeWindow {
    let end: DateTime<Utc> = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now");
    TimeWindow::new(end - chrono::Duration::days(days), end)
}

/// What a walk saw.
#[derive(Debug, Default)]
pub struct Walk {
    pub ids: BTreeSet<String>,
    /// Orders fetched (with repeats, if any), but for the repeats on a boundary second.
    pub seen: usize,
    /// Orders listed again by the window after the one that listed them, on the second both
    /// share: by design ([`leadgen_platforms::window::split`]: each window starts on the second
    /// the one before it ended, and the run counts distinct orders).
    pub boundary_repeats: usize,
    pub malformed: usize,
    pub windows: usize,
    pub pages: usize,
    pub virtual_phones: usize,
    pub encrypted_phones: usize,
    /// Every order that parsed.
    pub orders: Vec<RawOrder>,
}

/// Walks `range` by creation time as sync-worker does, window by window and page by page.
pub async fn walk(
    client: &dyn PlatformClient,
    session: &mut Session,
    range: TimeWindow,
    sink: &Sink,
) -> Result<Walk, SessionError> {
    walk_by(client, session, range, Listing::Created, sink).await
}

/// Walks `range` by `listing`, window by window and page by page.
pub async fn walk_by(
    client: &dyn PlatformClient,
    session: &mut Session,
    range: TimeWindow,
    listing: Listing,
    sink: &Sink,
) -> Result<Walk, SessionError> {
    let mut w = Walk::default();
    for window in client.windows(range, Utc::now(), listing) {
        w.windows += 1;
        // This window's orders: a repeat within one window is never a boundary's.
        let mut in_window: BTreeSet<String> = BTreeSet::new();
        let mut cursor: Option<PageCursor> = None;
        loop {
            let page = session
                .list_orders(client, &window, listing, cursor.as_ref(), sink)
                .await?;
            w.pages += 1;
            for order in &page.orders {
                let at = order.parsed.as_ref().ok().and_then(|p| match listing {
                    Listing::Created => Some(p.created_at),
                    Listing::Modified => p.modified_at,
                });
                let on_shared_second = at.is_some_and(|at| {
                    at >= window.start && at < window.start + chrono::Duration::seconds(1)
                });
                let id = order.order_id.clone().expect("order id");
                let first_in_window = in_window.insert(id.clone());
                if on_shared_second && first_in_window && w.ids.contains(&id) {
                    w.boundary_repeats += 1;
                    continue;
                }
                w.seen += 1;
                match &order.parsed {
                    Ok(parsed) => {
                        let kind = parsed.receiver.phone.as_ref().map(|p| p.kind);
                        w.virtual_phones += usize::from(kind == Some(ContactKind::Virtual));
                        w.encrypted_phones +=
                            usize::from(kind == Some(ContactKind::PlatformEncrypted));
                        w.orders.push(parsed.clone());
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

/// Walks the last 2 days with `session`, which the platform refuses for good (a wrong secret):
/// the error, after exactly one call (a permanent refusal is never retried).
pub async fn refused_at_once<C: PlatformClient + 'static>(
    sim: &Sim<C>,
    client: &dyn PlatformClient,
    session: &mut Session,
) -> SessionError {
    let before = sim.total_calls().await;
    let err = walk(client, session, last_days(2), &Sink::default())
        .await
        .expect_err("refused");
    assert_eq!(
        sim.total_calls().await,
        before + 1,
        "a permanent refusal is not retried: {err:?}"
    );
    err
}

/// The simulator also answered `503`s and bodies that do not parse (its counters of one
/// platform, as [`Sim::survives_every_fault`] returns them).
pub fn assert_transport_faults(platform: &serde_json::Value) {
    assert!(
        platform["http_faults_by_status"]["503"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert!(platform["malformed_responses"].as_u64().unwrap_or(0) > 0);
}
