//! The client against a real HTTP responder on 127.0.0.1 (port 0), the contract's checks, the
//! settings, and the committed schemas.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use leadgen_domain::buyer::{OrderFacts, aggregate};
use leadgen_domain::money::Money;
use leadgen_domain::order::NeutralStatus;
use leadgen_domain::scoring::Ranks;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::Tuning;
use crate::contract::all_schemas;
use crate::{ModelInput, PredictRequest, PredictResponse, Scorer, ScorerError, ScorerSettings};

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 responder: one request per connection, a reply that tests can swap.

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::raw(status, &body.to_string())
    }

    fn raw(status: u16, body: &str) -> Self {
        Reply {
            status,
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    fn ok() -> Self {
        Reply::json(
            200,
            json!({
                "intention": 73,
                "reasons": [{"code": "EXT_REPEAT", "text": "外部模型：复购可能性高"}],
                "modelVersion": "ext-gbdt-2026.05"
            }),
        )
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Debug)]
struct ServerState {
    /// Replies for the next requests, in order; then `reply`.
    queued: Mutex<VecDeque<Reply>>,
    reply: Mutex<Reply>,
    hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    bodies: Mutex<Vec<Vec<u8>>>,
}

struct Server {
    url: String,
    state: Arc<ServerState>,
}

impl Server {
    async fn start(reply: Reply) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ServerState {
            queued: Mutex::new(VecDeque::new()),
            reply: Mutex::new(reply),
            hits: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            bodies: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(socket, &state).await;
                });
            }
        });
        Server {
            url: format!("http://{addr}/v1/predict-intention"),
            state,
        }
    }

    fn queue(&self, reply: Reply) {
        self.state.queued.lock().unwrap().push_back(reply);
    }

    fn set(&self, reply: Reply) {
        *self.state.reply.lock().unwrap() = reply;
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, state: &ServerState) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    assert!(head.starts_with("post /v1/predict-intention "), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    state
        .bodies
        .lock()
        .unwrap()
        .push(buf[header_end..header_end + length].to_vec());
    let queued = state.queued.lock().unwrap().pop_front();
    let reply = queued.unwrap_or_else(|| state.reply.lock().unwrap().clone());
    state.hits.fetch_add(1, Ordering::SeqCst);
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(reply.delay).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let response = format!(
        "HTTP/1.1 {} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

fn settings(url: &str) -> ScorerSettings {
    ScorerSettings {
        url: Some(url.to_owned()),
        timeout_ms: 1_000,
        max_concurrency: 4,
        retries: 2,
        breaker_failures: 5,
        breaker_cooldown_secs: 30,
        stands_days: 7,
    }
}

const COOLDOWN: Duration = Duration::from_millis(200);

fn scorer(settings: &ScorerSettings) -> Scorer {
    let tuning = Tuning {
        breaker_cooldown: COOLDOWN,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    Scorer::with_tuning(settings, tuning).unwrap().unwrap()
}

fn request() -> PredictRequest {
    let t = |d| Utc.with_ymd_and_hms(2026, 5, d, 2, 0, 0).unwrap();
    let order = |id: &str, d| OrderFacts {
        platform_id: 3,
        order_id: id.to_owned(),
        status: NeutralStatus::Completed,
        created_at: t(d),
        paid_at: Some(t(d)),
        amount: Money::from_fen(12_900),
        refunded: false,
        partial_refund: None,
        product: "有机燕麦片 1kg".to_owned(),
    };
    PredictRequest {
        model_input: ModelInput {
            lead_id: 42,
            tenant_id: 7,
            as_of: t(30),
            aggregate: aggregate(&[order("A1", 1), order("A2", 20)]).unwrap(),
            ranks: Ranks {
                recency: 0.9,
                frequency: 0.8,
                monetary: 0.5,
            },
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The client against the responder.

#[tokio::test]
async fn a_correct_answer_becomes_the_external_intention() {
    let server = Server::start(Reply::ok()).await;
    let intention = scorer(&settings(&server.url))
        .predict(&request())
        .await
        .unwrap();
    assert_eq!(intention.value, 73);
    assert_eq!(intention.model_version, "ext-gbdt-2026.05");
    assert_eq!(intention.reasons.len(), 1);
    assert_eq!(intention.reasons[0].code, "EXT_REPEAT");
    assert_eq!(server.hits(), 1);

    let body = server.state.bodies.lock().unwrap()[0].clone();
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let input = &sent["modelInput"];
    assert_eq!(input["leadId"], 42);
    assert_eq!(input["tenantId"], 7);
    assert_eq!(input["asOf"], "2026-05-30T02:00:00Z");
    assert_eq!(input["ranks"]["recency"], 0.9);
    assert_eq!(input["aggregate"]["paidOrderCount"], 2);
    let parsed: PredictRequest = serde_json::from_slice(&body).unwrap();
    assert_eq!(parsed, request());
}

#[tokio::test]
async fn a_slow_scorer_times_out_after_every_retry() {
    let server = Server::start(Reply::ok().after(Duration::from_secs(30))).await;
    let mut s = settings(&server.url);
    s.timeout_ms = 100;
    let started = std::time::Instant::now();
    let outcome = scorer(&s).predict(&request()).await;
    assert_eq!(outcome, Err(ScorerError::Timeout));
    assert_eq!(server.hits(), 3, "the first attempt and two retries");
    // Bounded by the timeouts and backoffs (well under a second), not by the 30 s answer: a
    // wide margin, for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(15), "bounded");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let server = Server::start(Reply::raw(500, "oops")).await;
    let outcome = scorer(&settings(&server.url)).predict(&request()).await;
    assert_eq!(outcome, Err(ScorerError::Status(500)));
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_server_error_then_an_answer_is_an_answer() {
    let server = Server::start(Reply::ok()).await;
    server.queue(Reply::raw(503, ""));
    let outcome = scorer(&settings(&server.url)).predict(&request()).await;
    assert_eq!(outcome.unwrap().value, 73);
    assert_eq!(server.hits(), 2, "one 503, then the retry's answer");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = Server::start(Reply::raw(422, r#"{"error":"bad aggregate"}"#)).await;
    let outcome = scorer(&settings(&server.url)).predict(&request()).await;
    assert_eq!(outcome, Err(ScorerError::Status(422)));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn garbage_json_is_not_retried() {
    let server = Server::start(Reply::raw(200, "<html>maintenance</html>")).await;
    let outcome = scorer(&settings(&server.url)).predict(&request()).await;
    assert!(
        matches!(outcome, Err(ScorerError::Garbage(_))),
        "{outcome:?}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_out_of_range_intention_is_garbage() {
    let server = Server::start(Reply::json(
        200,
        json!({"intention": 150, "reasons": [], "modelVersion": "ext-1"}),
    ))
    .await;
    let outcome = scorer(&settings(&server.url)).predict(&request()).await;
    match outcome {
        Err(ScorerError::Garbage(why)) => assert!(why.contains("150"), "{why}"),
        other => panic!("expected garbage, got {other:?}"),
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unreachable_scorer_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let outcome = scorer(&settings(&format!("http://127.0.0.1:{port}/predict")))
        .predict(&request())
        .await;
    assert!(
        matches!(outcome, Err(ScorerError::Transport(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failed_calls_and_rejects_without_calling() {
    let server = Server::start(Reply::raw(500, "")).await;
    let mut s = settings(&server.url);
    s.breaker_failures = 2;
    let scorer = scorer(&s);
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::Status(500))
    );
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::Status(500))
    );
    assert_eq!(
        server.hits(),
        6,
        "a failed call is counted once, after its retries"
    );
    for _ in 0..3 {
        assert_eq!(
            scorer.predict(&request()).await,
            Err(ScorerError::CircuitOpen)
        );
    }
    assert_eq!(server.hits(), 6, "an open breaker does not call the scorer");
}

#[tokio::test]
async fn the_breaker_half_opens_after_the_cooldown_with_one_trial() {
    let server = Server::start(Reply::raw(500, "")).await;
    let mut s = settings(&server.url);
    s.breaker_failures = 1;
    s.retries = 0;
    let scorer = scorer(&s);
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::Status(500))
    );
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::CircuitOpen)
    );
    assert_eq!(server.hits(), 1);

    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    server.set(Reply::ok().after(Duration::from_millis(150)));
    let req = request();
    let (trial, other) = tokio::join!(scorer.predict(&req), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        scorer.predict(&request()).await
    });
    assert_eq!(trial.unwrap().value, 73, "the trial goes through");
    assert_eq!(
        other,
        Err(ScorerError::CircuitOpen),
        "only one trial at a time"
    );
    assert_eq!(server.hits(), 2);

    server.set(Reply::ok());
    assert!(scorer.predict(&request()).await.is_ok(), "closed again");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_failed_trial_opens_the_breaker_again() {
    let server = Server::start(Reply::raw(502, "")).await;
    let mut s = settings(&server.url);
    s.breaker_failures = 1;
    s.retries = 1;
    let scorer = scorer(&s);
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::Status(502))
    );
    tokio::time::sleep(COOLDOWN + Duration::from_millis(50)).await;
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::Status(502)),
        "the trial is sent (with its retry) and fails"
    );
    assert_eq!(server.hits(), 4);
    assert_eq!(
        scorer.predict(&request()).await,
        Err(ScorerError::CircuitOpen)
    );
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn requests_in_flight_stay_within_max_concurrency() {
    let server = Server::start(Reply::ok().after(Duration::from_millis(60))).await;
    let mut s = settings(&server.url);
    s.max_concurrency = 2;
    let scorer = Arc::new(scorer(&s));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let scorer = Arc::clone(&scorer);
        calls.spawn(async move { scorer.predict(&request()).await });
    }
    while let Some(outcome) = calls.join_next().await {
        assert!(outcome.unwrap().is_ok());
    }
    assert_eq!(server.hits(), 6);
    let max = server.state.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} requests in flight at once");
}

// ---------------------------------------------------------------------------------------------
// The contract's checks, without a server.

fn parse(body: serde_json::Value) -> Result<leadgen_domain::scoring::Intention, ScorerError> {
    PredictResponse::parse(body.to_string().as_bytes())
}

fn is_garbage(outcome: Result<leadgen_domain::scoring::Intention, ScorerError>) -> bool {
    matches!(outcome, Err(ScorerError::Garbage(_)))
}

#[test]
fn answers_are_checked_strictly() {
    let reason = json!({"code": "X", "text": "x"});
    for value in [0, 100] {
        let ok = parse(json!({"intention": value, "reasons": [reason], "modelVersion": "m"}));
        assert_eq!(ok.unwrap().value, value as u8);
    }
    for intention in [json!(-1), json!(101), json!(55.5), json!("55"), json!(null)] {
        let body = json!({"intention": intention, "reasons": [], "modelVersion": "m"});
        assert!(is_garbage(parse(body)), "{intention}");
    }
    assert!(is_garbage(parse(
        json!({"intention": 5, "reasons": [], "modelVersion": " "})
    )));
    assert!(is_garbage(parse(json!({"intention": 5, "reasons": []}))));
    assert!(is_garbage(parse(
        json!({"intention": 5, "reasons": [{"code": "", "text": "x"}], "modelVersion": "m"})
    )));
    let eleven: Vec<_> = (0..11).map(|_| reason.clone()).collect();
    assert!(is_garbage(parse(
        json!({"intention": 5, "reasons": eleven, "modelVersion": "m"})
    )));
    let ten: Vec<_> = (0..10).map(|_| reason.clone()).collect();
    assert!(parse(json!({"intention": 5, "reasons": ten, "modelVersion": "m"})).is_ok());
    let extra = json!({"intention": 5, "reasons": [], "modelVersion": "m", "latencyMs": 3});
    assert!(parse(extra).is_ok(), "fields added later are ignored");
    assert!(is_garbage(PredictResponse::parse(b"")));
    assert!(is_garbage(PredictResponse::parse(b"[1,2]")));
}

#[test]
fn errors_say_whether_to_retry() {
    assert!(ScorerError::Timeout.is_retryable());
    assert!(ScorerError::Transport("reset".into()).is_retryable());
    assert!(ScorerError::Status(500).is_retryable());
    assert!(ScorerError::Status(503).is_retryable());
    assert!(!ScorerError::Status(400).is_retryable());
    assert!(!ScorerError::Status(429).is_retryable());
    assert!(!ScorerError::Garbage("x".into()).is_retryable());
    assert!(!ScorerError::CircuitOpen.is_retryable());
}

// ---------------------------------------------------------------------------------------------
// Settings.

#[test]
fn settings_default_to_disabled_and_refuse_unknown_keys() {
    let s: ScorerSettings = serde_json::from_value(json!({})).unwrap();
    assert_eq!(s, ScorerSettings::default());
    assert_eq!(
        (
            s.timeout_ms,
            s.max_concurrency,
            s.retries,
            s.breaker_failures,
            s.breaker_cooldown_secs
        ),
        (800, 4, 2, 5, 30)
    );
    assert!(Scorer::new(&s).unwrap().is_none());
    let blank = ScorerSettings {
        url: Some("  ".into()),
        ..ScorerSettings::default()
    };
    assert!(Scorer::new(&blank).unwrap().is_none());

    let s: ScorerSettings =
        serde_json::from_value(json!({"url": "http://scorer:8080/predict", "timeout_ms": 300}))
            .unwrap();
    assert_eq!(s.timeout_ms, 300);
    assert_eq!(s.max_concurrency, 4);
    assert!(Scorer::new(&s).unwrap().is_some());

    assert!(serde_json::from_value::<ScorerSettings>(json!({"timeout": 3})).is_err());
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let with = |f: fn(&mut ScorerSettings)| {
        let mut s = settings("http://127.0.0.1:9/predict");
        f(&mut s);
        Scorer::new(&s).map(|s| s.is_some())
    };
    assert_eq!(with(|_| {}), Ok(true));
    for broken in [
        with(|s| s.url = Some("not a url".into())),
        with(|s| s.url = Some("ftp://scorer/predict".into())),
        with(|s| s.max_concurrency = 0),
        with(|s| s.timeout_ms = 0),
        with(|s| s.breaker_failures = 0),
    ] {
        assert!(matches!(broken, Err(ScorerError::Config(_))), "{broken:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The committed contract.

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto-events")
        .join(crate::contract::SCHEMA_DIR)
}

#[test]
fn committed_schemas_match_the_rust_types() {
    for (file, generated) in all_schemas() {
        let path = schema_dir().join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} missing ({e}); run `cargo test -p leadgen-scorer -- --ignored write_scorer_schemas`",
                path.display()
            )
        });
        let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(
            committed, generated,
            "{file} differs from the Rust types: run \
             `cargo test -p leadgen-scorer -- --ignored write_scorer_schemas` and review the diff"
        );
    }
}

#[test]
fn the_response_schema_states_the_checked_bounds() {
    let (_, schema) = all_schemas().remove(1);
    let props = &schema["properties"];
    assert_eq!(props["intention"]["minimum"], 0.0);
    assert_eq!(props["intention"]["maximum"], 100.0);
    assert_eq!(props["reasons"]["maxItems"], 10);
    assert_eq!(props["modelVersion"]["minLength"], 1);
}

/// Regenerates `proto-events/scorer/*.json` from the types, and the examples from the fixtures.
#[test]
#[ignore = "writes the committed schemas; run on purpose"]
fn write_scorer_schemas() {
    for (file, schema) in all_schemas() {
        let mut text = serde_json::to_string_pretty(&schema).unwrap();
        text.push('\n');
        std::fs::write(schema_dir().join(file), text).unwrap();
    }
    let examples = schema_dir().join("examples");
    std::fs::create_dir_all(&examples).unwrap();
    let ok = serde_json::from_str::<serde_json::Value>(&Reply::ok().body).unwrap();
    for (file, value) in [
        (
            "predict-intention-request.json",
            serde_json::to_value(request()).unwrap(),
        ),
        ("predict-intention-response.json", ok),
    ] {
        let mut text = serde_json::to_string_pretty(&value).unwrap();
        text.push('\n');
        std::fs::write(examples.join(file), text).unwrap();
    }
}

fn example(file: &str) -> Vec<u8> {
    let path = schema_dir().join("examples").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn committed_examples_follow_the_contract() {
    let req: PredictRequest =
        serde_json::from_slice(&example("predict-intention-request.json")).unwrap();
    assert_eq!(req.model_input.lead_id, 42);
    let intention = PredictResponse::parse(&example("predict-intention-response.json")).unwrap();
    assert_eq!(intention.model_version, "ext-gbdt-2026.05");
}
