//! What the tests that run `leadctl` against a test database share.

use std::time::Duration;

use leadgen_test_support::TestDb;
use tokio::process::Command;

/// `leadctl <args>` on `db`: whether it succeeded, and its standard output.
pub async fn leadctl(db: &TestDb, args: &[&str]) -> (bool, String) {
    let output = leadctl_on(db, args).await;
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// `leadctl <args>` on `db`, outside the repository (no configuration file found), within a
/// minute.
async fn leadctl_on(db: &TestDb, args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(std::env::temp_dir())
        .env_remove("LEADGEN_CONFIG_DIR")
        .env_remove("LEADGEN_SHARED_CONFIG_DIR")
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(args)
        .output();
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl")
}
