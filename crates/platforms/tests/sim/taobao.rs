//! The Taobao adapter against the simulator.

use std::time::Duration;

use leadgen_platforms::session::SessionError;
use leadgen_platforms::taobao::TaobaoClient;
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{
    Admin, Consent, EVERY_FAULT, Platform, Sim, Sink, last_days, refused_at_once,
};
use crate::reveal::{self, Rules};

static TAOBAO: Platform<TaobaoClient> = Platform {
    name: "taobao",
    app_key: "it-taobao-app",
    app_secret: "it-taobao-secret",
    sign_secret: None,
    service_id: None,
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
    Sim::start(&TAOBAO, &[]).yields_exactly(50).await;
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&TAOBAO, EVERY_FAULT);
    sim.survives_every_fault(&["7", "27", "9999", "15"]).await;
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&TAOBAO, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;

    let mut wrong = sim.session_signed_with("not-the-secret", &tokens);
    let err = refused_at_once(&sim, &client, &mut wrong).await;
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("25")),
        "{err:?}"
    );
    // Its refresh is refused too, the token endpoint blaming the app (`invalid_client`): the
    // platform's error, not a dead session (which marked every shop expired).
    let err = wrong
        .refresh_now(&client, &Sink::default())
        .await
        .expect_err("a wrong secret");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("invalid_client")),
        "{err:?}"
    );

    let err = sim.dead_session(&client, "not-a-session", None).await;
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
        quota_is_a_ban: true,
        quota_documented: true,
        denial_documented: true,
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

#[tokio::test]
async fn an_order_paid_later_is_listed_again_paid() {
    Sim::start(&TAOBAO, &[]).lists_a_later_payment().await;
}

/// A total that counts an order the platform never lists left the window's last page empty,
/// refused as malformed on every retry: the shop's syncs failed on that window for good.
#[tokio::test]
async fn an_overstated_total_reads_the_empty_last_page_as_empty() {
    Sim::start(&TAOBAO, &[])
        .walks_past_an_overstated_total()
        .await;
}
