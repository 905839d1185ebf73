//! The JD adapter against the simulator.

use std::time::Duration;

use leadgen_platforms::jd::JdClient;
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, Sink, fast, last_days, walk};
use crate::reveal::{self, Rules};

static JD: Platform<JdClient> = Platform {
    name: "jd",
    app_key: "it-jd-app",
    app_secret: "it-jd-secret",
    sign_secret: None,
    redirect: "http://127.0.0.1:1/callback/jd",
    orders_per_shop: 600,
    api_path: "/routerjson",
    authorize_path: "/oauth2/to_login",
    token_path: "/oauth2/access_token",
    consent: Consent::OneForm,
    admin: ORDER_IDS,
    tokens_expire: true,
    client: JdClient::new,
};

/// An access token of the right shape that the simulator never issued.
const UNKNOWN_TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&JD, &[]);
    let range = last_days(20);
    let sink = Sink::default();
    let w = sim.authorize_and_walk(range, &sink).await.expect("walk");
    let expected = sim.order_ids(&range).await;
    assert!(expected.len() > 150, "{}", expected.len());
    assert_eq!(w.ids, expected, "every order of every state, once");
    assert_eq!(w.seen, expected.len(), "no order fetched twice");
    assert_eq!(w.malformed, 0);
    assert!(w.pages > w.windows, "a sale day needs several pages");
    assert!(sink.is_empty(), "no refresh needed");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&JD, EVERY_FAULT);
    let range = last_days(10);
    let sink = Sink::default();
    let w = sim
        .authorize_and_walk(range, &sink)
        .await
        .expect("walk under faults");
    assert_eq!(w.ids, sim.order_ids(&range).await);
    assert_eq!(w.seen, w.ids.len(), "no order fetched twice");
    assert!(
        !sink.is_empty(),
        "tokens expired mid-run and were refreshed"
    );
    let stats = sim.stats().await;
    let jd = &stats["platforms"]["jd"];
    for code in ["2", "19", "9999"] {
        assert!(
            jd["api_errors_by_code"][code].as_u64().unwrap_or(0) > 0,
            "the simulator answered code {code}: {stats}"
        );
    }
    assert!(jd["malformed_responses"].as_u64().unwrap_or(0) > 0);
    assert!(jd["http_faults_by_status"]["503"].as_u64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&JD, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;
    let range = last_days(2);
    let sink = Sink::default();

    let mut wrong = Session::new(
        sim.app("not-the-secret"),
        tokens.access_token.clone(),
        None,
        fast(),
    );
    let started = std::time::Instant::now();
    let err = walk(&client, &mut wrong, range, &sink)
        .await
        .expect_err("bad signature");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("12")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a bad signature is not retried"
    );

    let err = sim
        .walk_with(&client, UNKNOWN_TOKEN, None, range, &sink)
        .await
        .expect_err("invalid token");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A refresh token the simulator refuses (its OAuth code 403, a code JOS does not
    // document) is not taken for a dead grant: reported as unknown, with JD's code and text.
    let refresh = Some("not-a-refresh-token");
    let err = sim
        .walk_with(&client, UNKNOWN_TOKEN, refresh, range, &sink)
        .await
        .expect_err("refresh refused");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::Unknown { ref code, .. }) if code == "oauth 403"),
        "{err:?}"
    );
}

/// JD permits fulfilment only.
#[tokio::test]
async fn reveals_a_buyers_phone_within_the_platforms_rules() {
    let rules = Rules {
        purpose: RevealPurpose::Fulfilment,
        refused: Some(RevealPurpose::CustomerCare),
        ungranted: None,
        args: &[],
        method: "jingdong.jos.order.oaid.decrypt",
        expiring: true,
    };
    reveal::within_the_rules(&JD, rules).await;
}
