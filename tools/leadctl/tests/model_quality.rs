//! `leadctl model-quality` on the simulator's data: `platform-sim dataset` exports a Taobao and a
//! JD shop with the simulator's default behaviour (5000 orders over a year, so deciles hold ~200
//! buyers), and the command measures the built-in model against the true-rate ceiling. About
//! 5 s once both binaries are built.
//!
//! The simulator binary is built first (`cargo build -p platform-sim`, a no-op when fresh).

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const ANCHOR: &str = "2026-03-01T00:00:00Z";
const ORDERS: &str = "5000";
const HISTORY_DAYS: &str = "365";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The simulator binary, rebuilt if its sources changed.
fn simulator() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "platform-sim"])
        .current_dir(repo())
        .status()
        .expect("run cargo build -p platform-sim");
    assert!(status.success(), "cargo build -p platform-sim failed");
    let bin = repo().join("target/debug/platform-sim");
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "leadctl-model-quality-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn export(sim: &Path, dir: &Path, platform: &str) -> PathBuf {
    let out = dir.join(format!("{platform}.json"));
    let output = Command::new(sim)
        .args(["dataset", "--platform", platform, "--seed", "42"])
        .args(["--orders", ORDERS, "--history-days", HISTORY_DAYS])
        .args(["--anchor-time", ANCHOR])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run platform-sim dataset");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Runs the command; its exit status and standard output.
fn model_quality(dataset: &Path, extra: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .arg("model-quality")
        .arg("--dataset")
        .arg(dataset)
        .args(extra)
        .output()
        .expect("run leadctl model-quality");
    (
        output.status.success(),
        String::from_utf8(output.stdout).expect("utf-8"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn report(dataset: &Path) -> Value {
    let (ok, stdout, stderr) = model_quality(dataset, &["--json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).expect("a JSON report")
}

fn num(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key}: {report}"))
}

#[test]
fn the_command_measures_the_builtin_model_on_simulated_shops() {
    let sim = simulator();
    let dir = scratch("measures");
    for platform in ["TAOBAO", "JD"] {
        let file = export(&sim, &dir, platform);
        let r = report(&file);
        eprintln!("{platform}: {r}");
        assert_eq!(r["ceiling"], "TRUE_RATE", "{platform}");
        assert!(num(&r, "buyers") > 1000.0, "{platform}: {r}");
        // Buyers repeat as in real shops: 5–20 % of them buy again within 30 days.
        let base = num(&r, "baseRate");
        assert!(base > 0.05 && base < 0.2, "{platform}: {r}");
        // The ranking is informative, and the true rate ranks better than history can.
        assert!(num(&r, "modelLift") > 2.0, "{platform}: {r}");
        // Regression guard below the 0.8 (builtin-rfm-6, like rfm-4 and rfm-5, measures 0.74-0.76 on these
        // shops; a Bayes-optimal estimate with the simulator's own parameters 0.78-0.80).
        assert!(num(&r, "ratio") > 0.7, "{platform}: {r}");
        assert!(
            num(&r, "ceilingLift") > num(&r, "modelLift"),
            "{platform}: {r}"
        );
        assert!(
            num(&r, "perfectLift") >= num(&r, "ceilingLift"),
            "{platform}: {r}"
        );
        assert!(num(&r, "normalizedGini") > 0.0, "{platform}: {r}");
        // Text output, and the exit status follows --require-*.
        let (ok, text, _) = model_quality(&file, &["--require-lift", "1.0"]);
        assert!(ok && text.contains("ratio model/ceiling"), "{text}");
        let (ok, _, stderr) = model_quality(&file, &["--require-ratio", "1.5"]);
        assert!(!ok && stderr.contains("below the required 1.5"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The bar the built-in model must reach (`make model-quality` checks Taobao the same way).
#[test]
#[ignore = "the built-in model (builtin-rfm-6) reaches lift 3.7-3.9 but not ratio 0.8 (0.758 on \
            Taobao, 0.740 on JD): the ceiling knows which buyers silently dropped out, which no \
            order history shows; a Bayes-optimal estimate reaches 0.78-0.80. Numbers and causes \
            in docs/model-quality.md."]
fn the_builtin_model_reaches_the_bar_on_taobao_and_jd() {
    let sim = simulator();
    let dir = scratch("bar");
    let mut misses = Vec::new();
    for platform in ["TAOBAO", "JD"] {
        let r = report(&export(&sim, &dir, platform));
        let (ratio, lift) = (num(&r, "ratio"), num(&r, "modelLift"));
        eprintln!("{platform}: ratio {ratio:.3}, lift {lift:.2}");
        if ratio < 0.8 || lift < 2.0 {
            misses.push(format!("{platform}: ratio {ratio:.3}, lift {lift:.2}"));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(misses.is_empty(), "below ratio 0.8 / lift 2: {misses:?}");
}
