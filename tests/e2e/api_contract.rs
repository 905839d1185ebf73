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
    gateway_errors_carry_a_trace_id(&system).await;
    gateway_refusals_come_in_the_envelope(&system).await;
    gateway_logs_keep_no_query(&system).await;
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

/// The gateway's own error envelopes (a path outside the API) carry the caller's trace id when
/// it sent a `traceparent`, else a fresh one: support finds the request either way.
async fn gateway_errors_carry_a_trace_id(system: &System) {
    let client = reqwest::Client::new();
    let get = |traceparent: Option<&str>| {
        let mut request = client.get(system.url("/api/v1/nowhere"));
        if let Some(t) = traceparent {
            request = request.header("traceparent", t);
        }
        request.send()
    };
    let trace_of = |body: serde_json::Value| body["traceId"].as_str().map(str::to_owned);
    let fresh = get(None).await.expect("gateway answers");
    assert_eq!(fresh.status(), reqwest::StatusCode::NOT_FOUND);
    let fresh: serde_json::Value = fresh.json().await.expect("a JSON envelope");
    assert_eq!(fresh["code"], 404, "{fresh}");
    let id = trace_of(fresh.clone()).unwrap_or_default();
    assert!(
        id.len() == 32
            && id.bytes().all(|b| b.is_ascii_hexdigit())
            && id.bytes().any(|b| b != b'0'),
        "{fresh}"
    );
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traced = get(Some(&format!("00-{caller}-00f067aa0ba902b7-01")))
        .await
        .expect("gateway answers");
    let traced: serde_json::Value = traced.json().await.expect("a JSON envelope");
    assert_eq!(
        trace_of(traced.clone()).as_deref(),
        Some(caller),
        "{traced}"
    );
}

/// A full mobile searched for (a query parameter) is in no access log line; the path is.
async fn gateway_logs_keep_no_query(system: &System) {
    let token = leadgen_test_support::token(1, 7, ALL_PERMISSIONS);
    let response = reqwest::Client::new()
        .get(system.url("/api/v1/lead-generation/orders/leads?contactInfo=13912340007&page=1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    // nginx writes the line after the answer has left: wait for it a moment.
    let log = system.dir.join("nginx/logs/access.log");
    let logged = "\"GET /api/v1/lead-generation/orders/leads HTTP/1.1\" 200";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = std::fs::read_to_string(&log).unwrap_or_default();
        if lines.contains(logged) || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        lines.contains(logged),
        "the request is logged by its path: {lines}"
    );
    assert!(
        !lines.contains("13912340007") && !lines.contains("contactInfo"),
        "a query reached the access log: {lines}"
    );
    // nginx's error lines quote the request line whole: a refused body must not put the
    // query into the error log.
    // Announced, not sent: nginx refuses on the length alone, and a client still sending a body
    // it already refused could see the connection reset.
    let refused = raw_request(
        system,
        "POST /api/v1/lead-generation/orders/leads?contactInfo=13912340008 HTTP/1.1\r\n\
         Content-Length: 2097152\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    let errors =
        std::fs::read_to_string(system.dir.join("nginx/logs/error.log")).unwrap_or_default();
    assert!(
        !errors.contains("13912340008"),
        "a query reached the error log: {errors}"
    );
}

/// What the gateway refuses before any service sees it is still the envelope, never nginx's
/// HTML: a request it cannot read, an overlong URI or headers, a method no path takes.
async fn gateway_refusals_come_in_the_envelope(system: &System) {
    let client = reqwest::Client::new();
    let base = system.url("/api/v1/lead-generation/orders");
    let long = "1".repeat(20_000);
    let big = "a".repeat(40_000);
    let cases = [
        (client.get(format!("{base}/platforms/%00")), 400),
        (client.get(format!("{base}/leads?contactInfo={long}")), 414),
        (
            client.get(format!("{base}/leads")).header("x-big", &big),
            431,
        ),
        (
            client.request(reqwest::Method::TRACE, format!("{base}/platforms")),
            501,
        ),
    ];
    // Bytes outside ASCII in the request line, as curl sends `?contactInfo=张`, and the
    // characters the services' parser refuses unencoded: reqwest would encode them, so the
    // request is written by hand.
    for query in ["contactInfo=张", "contactInfo=a<b", "contactInfo=\"x\""] {
        let raw = raw_request(
            system,
            &format!("GET /api/v1/lead-generation/orders/leads?{query} HTTP/1.1\r\n"),
        )
        .await;
        let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
        assert!(head.starts_with("HTTP/1.1 400"), "{raw}");
        let body: serde_json::Value = serde_json::from_str(body).expect("a JSON envelope");
        assert_eq!(body["code"], 400, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("URL 编码")),
            "{body}"
        );
    }
    for (request, status) in cases {
        let response = request.send().await.expect("gateway answers");
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = response.json().await.expect("a JSON envelope");
        assert_eq!(body["code"], status, "{body}");
        assert!(body["data"].is_null(), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.is_ascii(),
            "a Chinese message: {body}"
        );
    }
}

/// A request head written byte for byte to the gateway (its request line and any headers, each
/// ending in CRLF; bytes outside ASCII left as they are), no body, and the whole answer as text.
async fn raw_request(system: &System, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", system.gateway_port))
        .await
        .expect("connect to the gateway");
    let request = format!("{head}Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write the request");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the answer");
    String::from_utf8_lossy(&answer).into_owned()
}
