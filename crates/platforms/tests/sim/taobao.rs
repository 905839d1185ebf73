//! The Taobao adapter against the simulator.

use std::time::Duration;

use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::taobao::TaobaoClient;
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{Admin, Consent, EVERY_FAULT, Platform, Sim, Sink, fast, last_days, walk};
use crate::reveal::{self, Rules};

static TAOBAO: Platform<TaobaoClient> = Platform {
    name: "taobao",
    app_key: "it-taobao-app",
    app_secret: "it-taobao-secret",
    sign_secret: None,
    redirect: "http://127.0.0.1:1/callback",
    orders_per_shop: 400,
    api_path: "/router/rest",
    authorize_path: "/authorize",
    token_path: "/token",
    consent: Consent::Form,
    // Taobao lists trades by creation time, and calls them tids.
    admin: Admin {
        start: "start_created",
        end: "end_created",
        ids: "tids",
    },
    tokens_expire: false,
    client: TaobaoClient::new,
};

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&TAOBAO, &[]);
    let range = last_days(20);
    let sink = Sink::default();
    let w = sim.authorize_and_walk(range, &sink).await.expect("walk");
    let expected = sim.order_ids(&range).await;
    assert!(expected.len() > 50, "{}", expected.len());
    assert_eq!(w.ids, expected, "every order of every trade type, once");
    assert_eq!(w.seen, expected.len(), "no order fetched twice");
    assert_eq!(w.malformed, 0);
    assert!(sink.is_empty(), "no refresh needed");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&TAOBAO, EVERY_FAULT);
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
    let by_code = &stats["platforms"]["taobao"]["api_errors_by_code"];
    for code in ["7", "27", "9999"] {
        assert!(
            by_code[code].as_u64().unwrap_or(0) > 0,
            "the simulator answered code {code}: {stats}"
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&TAOBAO, &[]);
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
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("25")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a bad signature is not retried"
    );

    let err = sim
        .walk_with(&client, "not-a-session", None, range, &sink)
        .await
        .expect_err("invalid session");
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");
}

/// Every purpose maps to a Taobao scene; the app here holds 1006 and 2001, so customer care
/// (2002) is the platform's refusal.
#[tokio::test]
async fn reveals_a_buyers_phone_within_the_platforms_rules() {
    let rules = Rules {
        purpose: RevealPurpose::AfterSales,
        refused: None,
        ungranted: Some(RevealPurpose::CustomerCare),
        args: &["--taobao-decrypt-scenes", "1006,2001"],
        method: "taobao.top.oaid.decrypt",
        expiring: true,
    };
    reveal::within_the_rules(&TAOBAO, rules).await;
}

/// A stated ban is backed off: after the first "ban will last for N more seconds", the app's
/// next calls of that API are refused in the process, not sent, until the ban ends.
#[tokio::test]
async fn a_stated_ban_holds_the_next_calls_until_it_ends() {
    use leadgen_platforms::{Listing, PlatformClient as _};

    let sim = Sim::start(&TAOBAO, &["--qps-limit", "1"]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;
    let app = sim.app(TAOBAO.app_secret);
    let window = last_days(1);
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let page = client
            .list_orders(&app, &tokens.access_token, &window, Listing::Created, None)
            .await;
        outcomes.push(page.map(|_| ()));
    }
    assert_eq!(outcomes[0], Ok(()), "{outcomes:?}");
    assert!(
        outcomes[1..].iter().all(|o| matches!(
            o,
            Err(PlatformError::Throttled { retry_after: Some(left), detail }) if *left <= Duration::from_secs(1)
                && detail.starts_with("7 ")
        )),
        "{outcomes:?}"
    );
    let stats = sim.stats().await;
    let throttled = stats["platforms"]["taobao"]["api_errors_by_code"]["7"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(throttled, 1, "one refused call, the rest held: {stats}");
    assert_eq!(sim.calls_of("taobao.trades.sold.get").await, 2);
    // Once the ban is over the calls go out again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = client
        .list_orders(&app, &tokens.access_token, &window, Listing::Created, None)
        .await;
    assert!(again.is_ok(), "{again:?}");
}
