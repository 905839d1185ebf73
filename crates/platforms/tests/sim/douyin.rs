//! The Douyin Shop adapter against the simulator. Live-stream peaks put more than one page (100
//! orders) into some windows.

use std::time::Duration;

use leadgen_platforms::douyin::DouyinClient;
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{PlatformClient, PlatformError, RevealPurpose};

use crate::harness::{Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, Sink, fast, last_days, walk};
use crate::reveal::{self, Rules};

static DOUYIN: Platform<DouyinClient> = Platform {
    name: "douyin",
    app_key: "7311111111111111111",
    app_secret: "it-douyin-secret",
    sign_secret: None,
    redirect: "http://127.0.0.1:1/callback",
    orders_per_shop: 2000,
    // Every API method is a path of its own under the prefix.
    api_path: "",
    authorize_path: "/authorize",
    token_path: "/token/create",
    consent: Consent::Form,
    admin: ORDER_IDS,
    tokens_expire: false,
    client: DouyinClient::new,
};

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&DOUYIN, &[]);
    let range = last_days(20);
    let sink = Sink::default();
    let w = sim.authorize_and_walk(range, &sink).await.expect("walk");
    let expected = sim.order_ids(&range).await;
    assert!(expected.len() > 300, "{}", expected.len());
    assert_eq!(w.ids, expected, "every order, once");
    assert_eq!(w.seen, expected.len(), "no order fetched twice");
    assert_eq!(w.malformed, 0);
    assert!(w.pages > w.windows, "some window had more than one page");
    assert!(w.encrypted_phones > 0 && w.virtual_phones > 0);
    assert!(sink.is_empty(), "no refresh needed");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&DOUYIN, EVERY_FAULT);
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
    let douyin = &stats["platforms"]["douyin"];
    for code in ["60000", "40003", "77777"] {
        assert!(
            douyin["api_errors_by_code"][code].as_u64().unwrap_or(0) > 0,
            "the simulator answered code {code}: {stats}"
        );
    }
    assert!(douyin["http_faults_by_status"]["503"].as_u64().unwrap_or(0) > 0);
    assert!(douyin["malformed_responses"].as_u64().unwrap_or(0) > 0);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&DOUYIN, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;
    let range = last_days(2);
    let sink = Sink::default();

    let mut wrong = Session::new(
        sim.app("not-the-secret"),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        fast(),
    );
    let started = std::time::Instant::now();
    let err = walk(&client, &mut wrong, range, &sink)
        .await
        .expect_err("bad signature");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m))
            if m.contains("40003") && m.contains("isv.signature-invalid")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a bad signature is not retried"
    );
    // The wrong secret cannot create tokens either.
    let consent = client.authorize_url(&sim.app(DOUYIN.app_secret), DOUYIN.redirect, "s-2");
    let code = sim.approve(&consent).await;
    let refused = client
        .exchange_code(&sim.app("not-the-secret"), &code, DOUYIN.redirect)
        .await;
    assert!(
        matches!(refused, Err(PlatformError::InvalidRequest(_))),
        "{refused:?}"
    );

    let err = sim
        .walk_with(&client, "not-a-session", None, range, &sink)
        .await
        .expect_err("invalid session");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A dead session whose refresh token is dead too.
    let refresh = Some("not-a-refresh-token");
    let err = sim
        .walk_with(&client, "not-a-session", refresh, range, &sink)
        .await
        .expect_err("refused refresh");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");
}

/// Douyin permits fulfilment only.
#[tokio::test]
async fn reveals_a_buyers_phone_within_the_platforms_rules() {
    let rules = Rules {
        purpose: RevealPurpose::Fulfilment,
        refused: Some(RevealPurpose::CustomerCare),
        ungranted: None,
        args: &[],
        method: "order.batchDecrypt",
        expiring: true,
    };
    reveal::within_the_rules(&DOUYIN, rules).await;
}
