//! `leadctl` as an operator runs it in an image or a Job: from any working directory, configured
//! by its documented environment alone (no `config/` beside it).

use std::time::Duration;

use tokio::process::Command;

use leadgen_test_support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadctl_runs_outside_the_repository_on_environment_variables_alone() {
    let db = TestDb::new().await;
    let elsewhere = std::env::temp_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(&elsewhere)
        .env_remove("LEADGEN_CONFIG_DIR")
        .env_remove("LEADGEN_SHARED_CONFIG_DIR")
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(["migrate"])
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "leadctl migrate failed: {stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("up to date"),
        "{output:?}"
    );

    // A directory named in the environment is read from anywhere too; a missing one is an error
    // that names it.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(&elsewhere)
        .env("LEADGEN_SHARED_CONFIG_DIR", repo.join("config"))
        .env("LEADGEN_CONFIG_DIR", repo.join("tools/leadctl/config"))
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(["migrate"])
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl");
    assert!(output.status.success(), "{output:?}");
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .current_dir(&elsewhere)
        .env("LEADGEN_SHARED_CONFIG_DIR", "/nonexistent/config")
        .env("LEADGEN__DATABASE__URL", &db.url)
        .args(["migrate"])
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("leadctl finishes within a minute")
        .expect("run leadctl");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("/nonexistent/config"),
        "{output:?}"
    );
}
