//! `leadctl sign` prints the signature on its last line for every public vector without an
//! edge case (the vectors are the platforms' SDK outputs, copied into the platforms crate).

use std::process::Command;

#[test]
fn leadctl_sign_matches_every_public_vector() {
    let vectors: serde_json::Value = serde_json::from_str(include_str!(
        "../../../crates/platforms/tests/fixtures/signing-vectors.json"
    ))
    .expect("vectors");
    let mut checked = 0;
    for v in vectors["vectors"].as_array().expect("list") {
        if v.get("edge_case").is_some_and(|e| !e.is_null()) {
            continue;
        }
        let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
            .args([
                "sign",
                "--platform",
                v["platform"].as_str().expect("platform"),
            ])
            .args(["--sign-method", v["sign_method"].as_str().expect("method")])
            .args(["--secret", v["secret"].as_str().expect("secret")])
            .args(["--params", &v["params"].to_string()])
            .args(["--kind", v["kind"].as_str().expect("kind")])
            .output()
            .expect("run leadctl");
        assert!(
            output.status.success(),
            "{}: {}",
            v["id"],
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        let last = stdout.lines().last().expect("a line");
        assert_eq!(
            last,
            v["expected_sign"].as_str().expect("expected"),
            "vector {}",
            v["id"]
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} vectors");
}

#[test]
fn leadctl_sign_refuses_a_method_the_platform_does_not_offer() {
    let output = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .args([
            "sign",
            "--platform",
            "PDD",
            "--sign-method",
            "hmac-sha256",
            "--secret",
            "s",
            "--params",
            "{}",
        ])
        .output()
        .expect("run leadctl");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("hmac-sha256"));
}
