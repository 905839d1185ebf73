//! Command-line options: the server's flags (`platform-sim --listen … --seed …`), and the
//! `dataset` subcommand (`platform-sim dataset --platform TAOBAO --out FILE`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use clap::{Parser, Subcommand};
use leadgen_domain::PlatformType;

use crate::faults::{ErrorBurst, Faults};
use crate::http_util::parse_admin_time;
use crate::reveal::{DEFAULT_DAILY_QUOTA, DecryptConfig, parse_scenes};
use crate::state::{AppCredentials, AppRegistry, SimConfig};

/// A strict simulator of the e-commerce platforms' OAuth and order APIs.
///
/// Without a subcommand it serves the APIs; `dataset` writes one shop's orders to a file. An
/// option given twice takes its last value (test harnesses add to their defaults).
#[derive(Debug, Parser)]
#[command(name = "platform-sim", version, args_override_self = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, env = "PLATFORM_SIM_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// Seed for every generated shop and order.
    #[arg(long, env = "PLATFORM_SIM_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Orders generated per shop (one shop per app key).
    #[arg(long, env = "PLATFORM_SIM_ORDERS_PER_SHOP", default_value_t = 600)]
    pub orders_per_shop: usize,
    /// A registered app, `PLATFORM=APP_KEY:APP_SECRET` (repeatable). Default: one app per
    /// platform, `sim-<platform>-app:sim-<platform>-secret` (Kuaishou's sign secret
    /// `sim-kuaishou-sign-secret`), as `make run` prints them.
    /// Kuaishou: `KUAISHOU=KEY:APP_SECRET[:SIGN_SECRET]` (calls are signed with SIGN_SECRET).
    #[arg(long = "app", value_name = "PLATFORM=KEY:SECRET")]
    pub apps: Vec<AppCredentials>,
    /// Orders are created in the 80 days before this instant (RFC 3339, or Beijing
    /// `yyyy-MM-dd HH:mm:ss`). Default: start time, truncated to the minute.
    #[arg(long, env = "PLATFORM_SIM_ANCHOR_TIME")]
    pub anchor_time: Option<String>,
    /// Access-token lifetime in seconds (`expires_in`).
    #[arg(long, default_value_t = 86_400)]
    pub token_expires_in: i64,
    /// Refresh-token lifetime in seconds (`re_expires_in`).
    #[arg(long, default_value_t = 30 * 86_400)]
    pub refresh_expires_in: i64,
    /// Fault: API calls allowed per app key per second.
    #[arg(long)]
    pub qps_limit: Option<u32>,
    /// Fault: an access token expires after this many successful API calls.
    #[arg(long)]
    pub token_ttl_calls: Option<u64>,
    /// Fault: `EVERY:COUNT:STATUS`: after every EVERY successful calls, COUNT calls answer STATUS.
    #[arg(long, value_name = "EVERY:COUNT:STATUS")]
    pub error_burst: Option<ErrorBurst>,
    /// Fault: sleep this many milliseconds before answering each API call.
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// Fault: every N-th order-list response is truncated JSON.
    #[arg(long)]
    pub malformed_every: Option<u64>,
    /// Fault: every N-th order-list call answers an error code the platform documents nowhere.
    #[arg(long)]
    pub unknown_code_every: Option<u64>,
    /// Fault: every N-th order-list call answers the platform's documented "service
    /// unavailable, retry" error (HTTP 503 where it documents none).
    #[arg(long)]
    pub busy_every: Option<u64>,
    /// Fault: every order-list answer's total counts one order more than it lists.
    #[arg(long)]
    pub overstate_total: bool,
    /// Decrypt APIs: items each app may decrypt per Beijing day on each platform; above it the
    /// platform's quota error until Beijing midnight.
    #[arg(long, default_value_t = DEFAULT_DAILY_QUOTA)]
    pub decrypt_quota: u64,
    /// Decrypt APIs: the Taobao scenes the apps were granted (comma list of 1001–1007, 2001,
    /// 2002); another scene is refused. Default: all nine.
    #[arg(long, value_name = "SCENES")]
    pub taobao_decrypt_scenes: Option<String>,
    /// Decrypt APIs: every platform refuses its decrypt API as not granted to the apps.
    #[arg(long)]
    pub decrypt_denied: bool,
}

impl Args {
    pub fn faults(&self) -> anyhow::Result<Faults> {
        let faults = Faults {
            qps_limit: self.qps_limit,
            token_ttl_calls: self.token_ttl_calls,
            error_burst: self.error_burst,
            delay_ms: self.delay_ms,
            malformed_every: self.malformed_every,
            unknown_code_every: self.unknown_code_every,
            busy_every: self.busy_every,
            overstate_total: self.overstate_total,
        };
        faults.validate().map_err(anyhow::Error::msg)?;
        Ok(faults)
    }

    pub fn registry(&self) -> AppRegistry {
        if self.apps.is_empty() {
            return AppRegistry::new(default_apps());
        }
        AppRegistry::new(self.apps.clone())
    }

    pub fn config(&self, started: DateTime<Utc>) -> anyhow::Result<SimConfig> {
        let anchor = anchor(self.anchor_time.as_deref(), started)?;
        anyhow::ensure!(
            self.token_expires_in > 0,
            "--token-expires-in must be positive"
        );
        anyhow::ensure!(
            self.refresh_expires_in >= 0,
            "--refresh-expires-in must not be negative"
        );
        let mut config = SimConfig::new(self.seed, self.orders_per_shop, anchor);
        config.token_expires_in = self.token_expires_in;
        config.refresh_expires_in = self.refresh_expires_in;
        let mut decrypt = DecryptConfig {
            daily_quota: self.decrypt_quota,
            denied: self.decrypt_denied,
            ..DecryptConfig::default()
        };
        if let Some(scenes) = &self.taobao_decrypt_scenes {
            decrypt.taobao_scenes = parse_scenes(scenes)
                .map_err(|e| anyhow::anyhow!("--taobao-decrypt-scenes: {e}"))?;
        }
        config.decrypt = decrypt;
        Ok(config)
    }
}

/// What to do instead of serving the APIs.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Write one shop's generated orders (neutral facts, as the adapters parse them) and its
    /// buyers' true purchase rates as JSON, for `leadctl model-quality`
    /// (format: docs/model-quality.md).
    Dataset(DatasetArgs),
}

/// `platform-sim dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    /// TAOBAO, JD, PDD, DOUYIN or KUAISHOU.
    #[arg(long, value_parser = parse_platform)]
    pub platform: PlatformType,
    /// The app key whose shop to export. Default: `sim-<platform>-app`, the shop `make run`
    /// serves.
    #[arg(long)]
    pub app_key: Option<String>,
    /// Seed, as the server's `--seed`.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Orders generated for the shop, as the server's `--orders-per-shop`.
    #[arg(long, default_value_t = 600)]
    pub orders: usize,
    /// Days of history before the anchor the orders are spread over. The server serves 80 days
    /// (the platforms' APIs list recent months only), but a shop that has used the product for a
    /// year has a year of orders: a lead model sees that history.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub history_days: i64,
    /// Orders are created before this instant (RFC 3339, or Beijing `yyyy-MM-dd HH:mm:ss`), as
    /// the server's `--anchor-time`. Default: now, truncated to the minute.
    #[arg(long)]
    pub anchor_time: Option<String>,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_platform(text: &str) -> Result<PlatformType, String> {
    text.trim()
        .to_uppercase()
        .parse()
        .map_err(|e| format!("{e}"))
}

impl DatasetArgs {
    pub fn app_key(&self) -> String {
        self.app_key
            .clone()
            .unwrap_or_else(|| format!("sim-{}-app", self.platform.as_str().to_ascii_lowercase()))
    }

    pub fn anchor(&self, started: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        anchor(self.anchor_time.as_deref(), started)
    }
}

/// `--anchor-time`, or the start time truncated to the minute.
fn anchor(text: Option<&str>, started: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    match text {
        Some(text) => parse_admin_time(text)
            .with_context(|| format!("--anchor-time `{text}`: expected RFC 3339")),
        None => started
            .duration_trunc(TimeDelta::minutes(1))
            .context("truncating start time"),
    }
}

/// The apps registered when no `--app` is given: one per platform, for local runs.
fn default_apps() -> Vec<AppCredentials> {
    PlatformType::ALL
        .iter()
        .map(|platform| {
            let name = platform.as_str().to_ascii_lowercase();
            let mut secret = format!("sim-{name}-secret");
            if *platform == PlatformType::Kuaishou {
                secret.push_str(":sim-kuaishou-sign-secret");
            }
            AppCredentials {
                platform: *platform,
                key: format!("sim-{name}-app"),
                secret,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses_apps_faults_and_anchor() {
        let args = Args::try_parse_from([
            "platform-sim",
            "--listen",
            "127.0.0.1:0",
            "--app",
            "TAOBAO=k:s",
            "--error-burst",
            "5:2:503",
            "--anchor-time",
            "2026-11-25T00:00:00Z",
            "--qps-limit",
            "3",
        ])
        .unwrap();
        assert_eq!(args.registry().all().len(), 1);
        assert_eq!(args.faults().unwrap().error_burst.unwrap().status, 503);
        let config = args.config(Utc::now()).unwrap();
        assert_eq!(config.anchor.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(config.decrypt, crate::reveal::DecryptConfig::default());
        let defaults = Args::try_parse_from(["platform-sim"]).unwrap();
        let keys: Vec<String> = defaults
            .registry()
            .all()
            .iter()
            .map(|a| a.key.clone())
            .collect();
        assert_eq!(
            keys,
            [
                "sim-taobao-app",
                "sim-jd-app",
                "sim-pdd-app",
                "sim-douyin-app",
                "sim-kuaishou-app"
            ]
        );
        let started = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.6Z")
            .unwrap()
            .to_utc();
        let anchor = defaults.config(started).unwrap().anchor;
        assert_eq!(anchor.to_rfc3339(), "2026-01-02T03:04:00+00:00");
        assert!(defaults.command.is_none());
        let decrypt = Args::try_parse_from([
            "platform-sim",
            "--decrypt-quota",
            "3",
            "--taobao-decrypt-scenes",
            "1006,2001",
            "--decrypt-denied",
        ])
        .unwrap()
        .config(Utc::now())
        .unwrap()
        .decrypt;
        assert_eq!(decrypt.daily_quota, 3);
        assert!(decrypt.denied);
        assert_eq!(decrypt.taobao_scenes.len(), 2);
        let bad = Args::try_parse_from(["platform-sim", "--taobao-decrypt-scenes", "9"]).unwrap();
        assert!(bad.config(Utc::now()).is_err());
    }

    #[test]
    fn the_dataset_subcommand_parses_beside_the_server_flags() {
        let args = Args::try_parse_from([
            "platform-sim",
            "dataset",
            "--platform",
            "jd",
            "--seed",
            "7",
            "--orders",
            "5000",
            "--anchor-time",
            "2026-03-01T00:00:00Z",
            "--out",
            "/tmp/x.json",
        ])
        .unwrap();
        let Some(SimCommand::Dataset(d)) = args.command else {
            panic!("no dataset command");
        };
        assert_eq!((d.platform, d.seed, d.orders), (PlatformType::Jd, 7, 5000));
        assert_eq!(d.history_days, 365, "default");
        assert_eq!(d.app_key(), "sim-jd-app");
        let anchor = d.anchor(Utc::now()).unwrap();
        assert_eq!(anchor.to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert!(Args::try_parse_from(["platform-sim", "dataset", "--platform", "EBAY"]).is_err());
        let short = [
            "platform-sim",
            "dataset",
            "--platform",
            "JD",
            "--history-days",
        ];
        let Ok(Args {
            command: Some(SimCommand::Dataset(d)),
            ..
        }) = Args::try_parse_from(short.iter().chain(&["80"]))
        else {
            panic!("--history-days 80");
        };
        assert_eq!(d.history_days, 80);
        assert!(Args::try_parse_from(short.iter().chain(&["0"])).is_err());
        let server =
            Args::try_parse_from(["platform-sim", "--listen", "127.0.0.1:0", "--seed", "3"])
                .unwrap();
        assert!(server.command.is_none());
        assert_eq!(server.seed, 3);
    }
}
