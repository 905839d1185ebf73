//! The whole system for one test: its own database and broker prefix, the simulator, the four
//! services and the gateway.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use leadgen_test_support::{JWT_SECRET, TestBroker, TestDb, amqp_url};

use crate::gateway::Gateway;
use crate::process::{Proc, binary, free_port, repo_root};

pub const SERVICES: [&str; 4] = ["auth-api", "lead-api", "sync-worker", "order-processor"];
pub const APP_KEY: &str = "e2e-taobao-app";
pub const APP_SECRET: &str = "e2e-taobao-secret";

/// Each platform's simulator paths (as in `config/local.toml`): API, consent page, token.
pub const PLATFORMS: [(&str, &str, &str, &str); 5] = [
    (
        "TAOBAO",
        "/taobao/router/rest",
        "/taobao/authorize",
        "/taobao/token",
    ),
    (
        "JD",
        "/jd/routerjson",
        "/jd/oauth2/to_login",
        "/jd/oauth2/access_token",
    ),
    (
        "PDD",
        "/pdd/api/router",
        "/pdd/service-market/auth",
        "/pdd/oauth/token",
    ),
    (
        "DOUYIN",
        "/douyin",
        "/douyin/authorize",
        "/douyin/token/create",
    ),
    (
        "KUAISHOU",
        "/kuaishou",
        "/kuaishou/oauth/authorize",
        "/kuaishou/oauth2/access_token",
    ),
];

/// The app this test registers on the simulator for `platform`: key, secret, and the
/// `authInfo` to send (Kuaishou signs with a separate `signSecret`).
pub fn app_for(platform: &str) -> (String, String, serde_json::Value) {
    if platform == "TAOBAO" {
        return (
            APP_KEY.into(),
            APP_SECRET.into(),
            serde_json::json!({"appKey": APP_KEY, "appSecret": APP_SECRET}),
        );
    }
    let name = platform.to_ascii_lowercase();
    let (key, secret) = (format!("e2e-{name}-app"), format!("e2e-{name}-secret"));
    let mut info = serde_json::json!({"appKey": key, "appSecret": secret});
    if platform == "KUAISHOU" {
        info["signSecret"] = serde_json::json!("e2e-kuaishou-sign-secret");
    }
    if platform == "DOUYIN" {
        // The simulator's service-market id of an app is its key.
        info["serviceId"] = serde_json::json!(key);
    }
    (key, secret, info)
}

fn sim_app_arg(platform: &str) -> String {
    let (key, secret, _) = app_for(platform);
    let secret = if platform == "KUAISHOU" {
        format!("{secret}:e2e-kuaishou-sign-secret")
    } else {
        secret
    };
    format!("{platform}={key}:{secret}")
}

pub struct System {
    pub db: TestDb,
    pub broker: TestBroker,
    pub dir: PathBuf,
    pub sim_port: u16,
    pub gateway_port: u16,
    pub ports: Vec<(&'static str, u16)>,
    pub procs: Vec<Proc>,
    pub gateway: Option<Gateway>,
    pub http: reqwest::Client,
    /// Settings for every service beyond the defaults below (`LEADGEN__…` variables).
    pub service_env: Vec<(String, String)>,
}

impl System {
    /// Starts everything; `sim_args` are extra simulator flags (faults).
    pub async fn start(sim_args: &[&str]) -> System {
        System::start_with(sim_args, &[]).await
    }

    /// Starts everything with `service_env` (`LEADGEN__…` settings) on top of every service's
    /// defaults.
    pub async fn start_with(sim_args: &[&str], service_env: &[(&str, &str)]) -> System {
        let db = TestDb::new().await;
        let broker = TestBroker::new(vec![
            leadgen_messaging::QueueSpec {
                consumer: "sync-worker",
                routing_keys: vec!["sync.requested.v1"],
            },
            leadgen_messaging::QueueSpec {
                consumer: "order-processor",
                routing_keys: vec!["orders.fetched.v1"],
            },
        ]);
        let dir = std::env::temp_dir().join(format!("leadgen-e2e-{}", broker.prefix));
        std::fs::create_dir_all(&dir).expect("e2e dir");
        let sim_port = free_port();
        let ports = SERVICES.iter().map(|s| (*s, free_port())).collect();
        // One browser: it keeps the consent cookie an authorization sets until the callback.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        let gateway_port = free_port();
        let mut system = System {
            db,
            broker,
            dir,
            sim_port,
            gateway_port,
            ports,
            procs: Vec::new(),
            gateway: None,
            http,
            service_env: service_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };

        let mut sim = Command::new(binary("platform-sim"));
        sim.args([
            "--listen",
            &format!("127.0.0.1:{sim_port}"),
            "--seed",
            "7",
            "--orders-per-shop",
            "600",
        ])
        .args(
            PLATFORMS
                .iter()
                .flat_map(|(p, ..)| ["--app".to_owned(), sim_app_arg(p)]),
        )
        .args(sim_args);
        let sim = Proc::spawn("platform-sim", sim, &system.dir);
        system.procs.push(sim);
        system
            .wait_http(&format!("http://127.0.0.1:{sim_port}/healthz"))
            .await;
        for name in SERVICES {
            system.start_service(name);
        }
        for name in SERVICES {
            system.wait_ready(name).await;
        }
        system.gateway = Some(Gateway::start(
            &system.dir,
            gateway_port,
            system.port("auth-api"),
            system.port("lead-api"),
        ));
        system
            .wait_http(&system.url("/api/v1/lead-generation/orders/leads"))
            .await;
        system
    }

    /// The sum of `service`'s samples of `name` ([`metric_at`]).
    pub async fn metric(&self, service: &str, name: &str, labels: &[&str]) -> f64 {
        metric_at(self.port(service), name, labels).await
    }

    /// `service`'s samples of `name` ([`sampled_at`]): `None` when there is none.
    pub async fn sampled(&self, service: &str, name: &str, labels: &[&str]) -> Option<f64> {
        sampled_at(self.port(service), name, labels).await
    }

    /// Waits until `service` has a sample of every one of `names` (gauges set by a periodic
    /// task), failing after `within` with those still missing.
    pub async fn wait_sampled(&self, service: &str, names: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let mut missing = Vec::new();
            for name in names {
                if self.sampled(service, name, &[]).await.is_none() {
                    missing.push(*name);
                }
            }
            if missing.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "{service} lacks {missing:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .expect("known service")
    }

    /// A URL through the gateway.
    pub fn url(&self, path: &str) -> String {
        self.gateway.as_ref().expect("gateway").url(path)
    }

    pub fn sim_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.sim_port)
    }

    pub fn start_service(&mut self, name: &str) {
        let command = self.command(name, self.port(name));
        self.procs.retain(|p| p.name != name);
        self.procs.push(Proc::spawn(name, command, &self.dir));
    }

    /// Starts one more process of service `name` (another replica), known as `replica`, on a
    /// free port; answers the port.
    pub fn start_replica(&mut self, name: &str, replica: &str) -> u16 {
        let port = free_port();
        let command = self.command(name, port);
        self.procs.retain(|p| p.name != replica);
        self.procs.push(Proc::spawn(replica, command, &self.dir));
        port
    }

    fn command(&self, name: &str, port: u16) -> Command {
        let root = repo_root();
        let mut command = Command::new(binary(name));
        command
            .env(
                "LEADGEN_CONFIG_DIR",
                root.join("services").join(name).join("config"),
            )
            .env("LEADGEN_SHARED_CONFIG_DIR", root.join("config"))
            .env("LEADGEN_ENV", "local")
            .env("LEADGEN__DATABASE__URL", &self.db.url)
            .env("LEADGEN__AMQP__URL", amqp_url())
            .env("LEADGEN__AMQP__PREFIX", &self.broker.prefix)
            .env("LEADGEN__HTTP__PORT", port.to_string())
            .env("LEADGEN__AUTH__HMAC_SECRET", JWT_SECRET)
            .envs(PLATFORMS.iter().flat_map(|(p, api, authorize, token)| {
                let sim = |path: &str| format!("http://127.0.0.1:{}{path}", self.sim_port);
                [
                    (format!("LEADGEN__PLATFORMS__{p}__API_URL"), sim(api)),
                    (
                        format!("LEADGEN__PLATFORMS__{p}__AUTHORIZE_URL"),
                        sim(authorize),
                    ),
                    (format!("LEADGEN__PLATFORMS__{p}__TOKEN_URL"), sim(token)),
                    (format!("LEADGEN__PLATFORMS__{p}__QPS"), "50".to_owned()),
                ]
            }))
            .env("LEADGEN__SYNC__SCHEDULER_ENABLED", "false")
            .env("LEADGEN__OAUTH__BACKFILL_DAYS", "0")
            .env("LEADGEN__SYNC__MAX_BACKOFF_MS", "2000")
            .env("LEADGEN__OUTBOX__POLL_INTERVAL_MS", "50")
            // Orders handed back after a reveal are processed within a second.
            .env("LEADGEN__PROCESSING__SWEEP_INTERVAL_SECS", "1")
            .env("LEADGEN__HTTP__SHUTDOWN_TIMEOUT_SECS", "5")
            .env("RUST_LOG", "info,lapin=error,pinky_swear=error")
            .envs(self.service_env.iter().map(|(k, v)| (k, v)));
        if name == "auth-api" {
            // The platform redirects the browser to our callback through the gateway.
            command.env(
                "LEADGEN__OAUTH__CALLBACK_URL",
                format!(
                    "http://127.0.0.1:{}/api/v1/lead-generation/orders/platforms/auth/callback",
                    self.gateway_port
                ),
            );
        }
        command
    }

    pub fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .expect("running process")
    }

    pub async fn wait_ready(&mut self, name: &str) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port(name));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            let running = self.proc(name).is_running();
            assert!(
                running && Instant::now() < deadline,
                "{name} is not ready:\n{}",
                self.proc(name).log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_http(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.http.get(url).send().await.is_err() {
            assert!(Instant::now() < deadline, "{url} does not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Reads `GET /metrics` on `port` and sums the samples of `name` whose labels contain every
/// `key="value"` of `labels` (0 when there is none: a counter not yet incremented).
pub async fn metric_at(port: u16, name: &str, labels: &[&str]) -> f64 {
    sampled_at(port, name, labels).await.unwrap_or(0.0)
}

/// As [`metric_at`], `None` when no sample matches (a gauge never set).
pub async fn sampled_at(port: u16, name: &str, labels: &[&str]) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .fold(None, |sum, v| Some(sum.unwrap_or(0.0) + v))
}
