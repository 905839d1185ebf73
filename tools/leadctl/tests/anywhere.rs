//! `leadctl` as an operator runs it in an image or a Job: from any working directory, configured
//! by its documented environment alone (no `config/` beside it).

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use tokio::process::Command;

use leadgen_test_support::TestDb;

/// `leadctl migrate` from the temporary directory, on `db`, with only the configuration
/// directories `dirs` (variable, path) named.
async fn migrate_elsewhere(db: &TestDb, dirs: &[(&str, PathBuf)]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(std::env::temp_dir())
        .env_remove("LEADGEN_CONFIG_DIR")
        .env_remove("LEADGEN_SHARED_CONFIG_DIR")
        .envs(dirs.iter().map(|(k, v)| (*k, v)))
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(["migrate"])
        .output();
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadctl_runs_outside_the_repository_on_environment_variables_alone() {
    let db = TestDb::new().await;
    let output = migrate_elsewhere(&db, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "leadctl migrate failed: {stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{output:?}"
    );

    // A directory named in the environment is read from anywhere too; a missing one is an error
    // that names it.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = migrate_elsewhere(
        &db,
        &[
            ("LEADGEN_SHARED_CONFIG_DIR", repo.join("config")),
            ("LEADGEN_CONFIG_DIR", repo.join("tools/leadctl/config")),
        ],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let output = migrate_elsewhere(
        &db,
        &[(
            "LEADGEN_SHARED_CONFIG_DIR",
            PathBuf::from("/nonexistent/config"),
        )],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("/nonexistent/config"),
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_a_shop_that_does_not_exist_is_an_error_not_zero_orders() {
    let db = TestDb::new().await;
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(std::env::temp_dir())
        .env_remove("LEADGEN_CONFIG_DIR")
        .env_remove("LEADGEN_SHARED_CONFIG_DIR")
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(["leads", "rebuild", "--platform", "999999"])
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no shop 999999"), "{stderr}");
}
