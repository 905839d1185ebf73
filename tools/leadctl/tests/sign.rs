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
            .env("LEADCTL_SIGN_SECRET", v["secret"].as_str().expect("secret"))
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
            "--params",
            "{}",
        ])
        .env("LEADCTL_SIGN_SECRET", "s")
        .output()
        .expect("run leadctl");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("hmac-sha256"));
}

/// The secret is never an argument (shell history and `ps` keep those): it comes from standard
/// input when the environment has none, and the parameters may come from a file.
#[test]
fn leadctl_sign_reads_the_secret_from_standard_input_and_the_params_from_a_file() {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("leadctl-sign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("params.json");
    std::fs::write(&file, r#"{"method":"m","timestamp":"1"}"#).expect("params");
    let run = |input: &str, params: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadctl"))
            .args(["sign", "--platform", "TAOBAO", "--sign-method", "md5"])
            .args(["--params", params])
            .env_remove("LEADCTL_SIGN_SECRET")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run leadctl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
    };
    let from_file = run("secret\n", &format!("@{}", file.display()));
    assert!(from_file.status.success(), "{from_file:?}");
    let inline = run("secret\n", r#"{"method":"m","timestamp":"1"}"#);
    assert_eq!(from_file.stdout, inline.stdout);
    let other = run("another\n", r#"{"method":"m","timestamp":"1"}"#);
    assert_ne!(other.stdout, inline.stdout, "signed with the secret given");
    let none = run("", "{}");
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("LEADCTL_SIGN_SECRET"));
    let argument = Command::new(env!("CARGO_BIN_EXE_leadctl"))
        .args(["sign", "--platform", "TAOBAO", "--sign-method", "md5"])
        .args(["--secret", "s", "--params", "{}"])
        .output()
        .expect("run leadctl");
    assert!(!argument.status.success(), "--secret is no argument");
    std::fs::remove_dir_all(&dir).ok();
}
