//! The JD adapter against the simulator.

use leadgen_platforms::jd::JdClient;
use leadgen_platforms::session::SessionError;
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{
    Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, assert_transport_faults, refused_at_once,
};
use crate::reveal::{self, Rules};

static JD: Platform<JdClient> = Platform {
    name: "jd",
    app_key: "it-jd-app",
    app_secret: "it-jd-secret",
    sign_secret: None,
    service_id: None,
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
    let w = sim.yields_exactly(150).await;
    assert!(w.pages > w.windows, "a sale day needs several pages");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&JD, EVERY_FAULT);
    let platform = sim.survives_every_fault(&["2", "19", "9999"]).await;
    assert_transport_faults(&platform);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&JD, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;

    let mut wrong = sim.session_signed_with("not-the-secret", &tokens);
    let err = refused_at_once(&sim, &client, &mut wrong).await;
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("12")),
        "{err:?}"
    );

    let err = sim.dead_session(&client, UNKNOWN_TOKEN, None).await;
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A refresh token the simulator refuses (its OAuth code 403, a code JOS does not
    // document) is not taken for a dead grant: reported as unknown, with JD's code and text.
    let refresh = Some("not-a-refresh-token");
    let err = sim.dead_session(&client, UNKNOWN_TOKEN, refresh).await;
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
        quota_is_a_ban: true,
        quota_documented: true,
        denial_documented: false,
    };
    reveal::within_the_rules(&JD, rules).await;
}

/// A total that counts an order the platform never lists left the window's last page empty,
/// refused as malformed on every retry: the shop's syncs failed on that window for good.
#[tokio::test]
async fn an_overstated_total_reads_the_empty_last_page_as_empty() {
    Sim::start(&JD, &[]).walks_past_an_overstated_total().await;
}

/// A throttle that states no wait (JD's code 2, "调用次数/失败次数超限") holds the app key's next
/// calls of that API without sending them, a second at first: every retry of every sync no
/// longer hits the limit again (JD counts failed calls against it too). The hold rides on the
/// error, for the retries to wait it out.
#[tokio::test]
async fn an_unstated_throttle_holds_the_next_calls_without_sending_them() {
    use std::time::Duration;

    use leadgen_platforms::jd::SEARCH_METHOD;
    use leadgen_platforms::{Listing, PlatformClient as _};

    let sim = Sim::start(&JD, &["--qps-limit", "1"]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;
    let app = sim.app(JD.app_secret);
    let window = crate::harness::last_days(1);
    let before = sim.calls_of(SEARCH_METHOD).await;
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
            Err(PlatformError::Throttled { retry_after: Some(left), detail })
                if *left <= Duration::from_secs(1) && detail.starts_with("2 ")
        )),
        "{outcomes:?}"
    );
    assert_eq!(
        sim.calls_of(SEARCH_METHOD).await,
        before + 2,
        "one refused call, the rest held"
    );
    // Once the hold is over the calls go out again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = client
        .list_orders(&app, &tokens.access_token, &window, Listing::Created, None)
        .await;
    assert!(again.is_ok(), "{again:?}");
}
