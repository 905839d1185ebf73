//! The PDD adapter against the simulator. PDD lists by confirm (成交) time; the simulator's admin view
//! answers by confirm time too.

use leadgen_platforms::pdd::PddClient;
use leadgen_platforms::session::SessionError;
use leadgen_platforms::{PlatformError, RevealPurpose};

use crate::harness::{
    Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, Sink, assert_transport_faults, last_days, walk,
};
use crate::reveal::{self, Rules};

static PDD: Platform<PddClient> = Platform {
    name: "pdd",
    app_key: "it-pdd-client",
    app_secret: "it-pdd-secret",
    sign_secret: None,
    service_id: None,
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
    let w = sim.yields_exactly(150).await;
    assert!(w.pages > w.windows, "a sale day needs several pages");
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&PDD, EVERY_FAULT);
    let platform = sim
        .survives_every_fault(&["70031", "10019", "60999", "52103", "52102"])
        .await;
    assert_transport_faults(&platform);
}

#[tokio::test]
async fn a_wrong_secret_is_reported_with_pdds_code_and_a_dead_session_too() {
    let sim = Sim::start(&PDD, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;

    // PDD documents neither the simulator's 10001 `sign-check-failure` nor its 10016 (README
    // §3.4): unknown, retried and refreshed once (the refresh carries the same wrong secret),
    // then reported with PDD's code.
    let mut wrong = sim.session_signed_with("not-the-secret", &tokens);
    let err = walk(&client, &mut wrong, last_days(2), &Sink::default())
        .await
        .expect_err("a wrong secret");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::Unknown { ref code, .. })
            if code == "10001" || code == "10016"),
        "{err:?}"
    );

    let err = sim.dead_session(&client, UNKNOWN_TOKEN, None).await;
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A refresh token the simulator refuses (its 20002, a code PDD does not document) is not
    // taken for a dead grant: reported as unknown, with PDD's code and text.
    let refresh = Some("not-a-refresh-token");
    let err = sim.dead_session(&client, UNKNOWN_TOKEN, refresh).await;
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
        quota_is_a_ban: false,
        quota_documented: false,
        denial_documented: false,
    };
    reveal::within_the_rules(&PDD, rules).await;
}

/// A total that counts an order the platform never lists left the window's last page empty,
/// refused as malformed on every retry: the shop's syncs failed on that window for good.
#[tokio::test]
async fn an_overstated_total_reads_the_empty_last_page_as_empty() {
    Sim::start(&PDD, &[]).walks_past_an_overstated_total().await;
}
