//! The PDD adapter against the simulator. PDD lists by confirm (成交) time; the simulator's admin view
//! answers by confirm time too.

use std::time::Duration;

use leadgen_platforms::pdd::PddClient;
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, Sink, fast, last_days, walk};
use crate::reveal::{self, Rules};

static PDD: Platform<PddClient> = Platform {
    name: "pdd",
    app_key: "it-pdd-client",
    app_secret: "it-pdd-secret",
    sign_secret: None,
    redirect: "http://127.0.0.1:1/callback/pdd",
    orders_per_shop: 600,
    api_path: "/api/router",
    authorize_path: "/service-market/auth",
    token_path: "/oauth/token",
    consent: Consent::OneForm,
    admin: ORDER_IDS,
    tokens_expire: true,
    client: PddClient::new,
};

/// An access token of the right shape that the simulator never issued.
const UNKNOWN_TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&PDD, &[]);
    let range = last_days(20);
    let sink = Sink::default();
    let w = sim.authorize_and_walk(range, &sink).await.expect("walk");
    let expected = sim.order_ids(&range).await;
    assert!(expected.len() > 150, "{}", expected.len());
    assert_eq!(
        w.ids, expected,
        "every confirmed order of every status, once"
    );
    assert_eq!(w.seen, expected.len(), "no order fetched twice");
    assert_eq!(w.malformed, 0);
    assert!(w.pages > w.windows, "a sale day needs several pages");
    assert!(sink.is_empty(), "no refresh needed");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&PDD, EVERY_FAULT);
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
    let pdd = &stats["platforms"]["pdd"];
    for code in ["70031", "10019", "60999"] {
        assert!(
            pdd["api_errors_by_code"][code].as_u64().unwrap_or(0) > 0,
            "the simulator answered code {code}: {stats}"
        );
    }
    assert!(pdd["malformed_responses"].as_u64().unwrap_or(0) > 0);
    assert!(pdd["http_faults_by_status"]["503"].as_u64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&PDD, &[]);
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
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("sign-check-failure")),
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

    // A refresh token the simulator refuses (its 20002, a code PDD does not document) is not
    // taken for a dead grant: reported as unknown, with PDD's code and text.
    let refresh = Some("not-a-refresh-token");
    let err = sim
        .walk_with(&client, UNKNOWN_TOKEN, refresh, range, &sink)
        .await
        .expect_err("refresh refused");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::Unknown { ref code, .. }) if code == "20002"),
        "{err:?}"
    );
}

/// PDD permits fulfilment only and sends no expiry for privacy numbers.
#[tokio::test]
async fn reveals_a_buyers_phone_within_the_platforms_rules() {
    let rules = Rules {
        purpose: RevealPurpose::Fulfilment,
        refused: Some(RevealPurpose::AfterSales),
        ungranted: None,
        args: &[],
        method: "pdd.open.decrypt.batch",
        expiring: false,
    };
    reveal::within_the_rules(&PDD, rules).await;
}
