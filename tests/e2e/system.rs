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
}

impl System {
    /// Starts everything; `sim_args` are extra simulator flags (faults).
    pub async fn start(sim_args: &[&str]) -> System {
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
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
        .args(["--app", &format!("TAOBAO={APP_KEY}:{APP_SECRET}")])
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
        let root = repo_root();
        let sim = format!("http://127.0.0.1:{}/taobao", self.sim_port);
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
            .env("LEADGEN__HTTP__PORT", self.port(name).to_string())
            .env("LEADGEN__AUTH__HMAC_SECRET", JWT_SECRET)
            .env(
                "LEADGEN__PLATFORMS__TAOBAO__API_URL",
                format!("{sim}/router/rest"),
            )
            .env(
                "LEADGEN__PLATFORMS__TAOBAO__AUTHORIZE_URL",
                format!("{sim}/authorize"),
            )
            .env(
                "LEADGEN__PLATFORMS__TAOBAO__TOKEN_URL",
                format!("{sim}/token"),
            )
            .env("LEADGEN__PLATFORMS__TAOBAO__QPS", "50")
            .env("LEADGEN__SYNC__SCHEDULER_ENABLED", "false")
            .env("LEADGEN__SYNC__MAX_BACKOFF_MS", "2000")
            .env("LEADGEN__OUTBOX__POLL_INTERVAL_MS", "50")
            .env("LEADGEN__HTTP__SHUTDOWN_TIMEOUT_SECS", "5")
            .env("RUST_LOG", "info,lapin=error,pinky_swear=error");
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
        self.procs.retain(|p| p.name != name);
        self.procs.push(Proc::spawn(name, command, &self.dir));
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
