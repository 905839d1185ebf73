//! The gateway API against its own OpenAPI document: schemathesis (PyPI; `make test` installs it)
//! fuzzes every documented operation through the real gateway and services, with a shop synced
//! so that leads exist, and fails on any 5xx, any answer the document does not describe, any
//! undeclared method not answered 405 with `Allow`, and any schema-violating request accepted
//! (`tests/schemathesis/schemathesis.toml` says which checks are adjusted and why).

use std::process::Command;
use std::time::Duration;

use leadgen_e2e::system::System;

use crate::flow::{self, Api};

const ALL_PERMISSIONS: &[&str] = &[
    "lead:order:auth",
    "lead:order:sync",
    "lead:order:view",
    "lead:order:process",
    "lead:order:audit",
    "lead:order:contact",
];

fn schemathesis() -> String {
    #[expect(clippy::disallowed_methods, reason = "where pip installs for the user")]
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let user_bin = home.map(|h| h.join(".local/bin/schemathesis"));
    match user_bin {
        Some(p) if p.exists() => p.display().to_string(),
        _ => "schemathesis".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_api_conforms_to_its_openapi_document() {
    let system = System::start(&[]).await;
    let api = Api::new(&system, 1);
    let platform_id = api.authorize_on_consent_page(&system).await;
    let (start, end) = flow::window_days(5);
    let task = api.request_sync(platform_id, &start, &end).await;
    let record = api.wait_for_task(task, Duration::from_secs(120)).await;
    assert_eq!(record["status"], "COMPLETED", "{record}");
    flow::wait_until_settled(&system).await;

    let token = leadgen_test_support::token(1, 7, ALL_PERMISSIONS);
    let base = system.url("/api/v1/lead-generation/orders");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let output = Command::new(schemathesis())
        .current_dir(root.join("schemathesis"))
        .args([
            "run",
            &format!("{base}/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "25",
            // One worker: schemathesis' generator is not reliable across threads.
            "--workers",
            "1",
            "--seed",
            "20261202",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis is installed (deploy/scripts/deps.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
