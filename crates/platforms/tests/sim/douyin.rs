//! The Douyin Shop adapter against the simulator. Live-stream peaks put more than one page (100
//! orders) into some windows.

use leadgen_platforms::douyin::DouyinClient;
use leadgen_platforms::session::SessionError;
use leadgen_platforms::{PlatformClient, PlatformError, RevealPurpose};

use crate::harness::{
    Consent, EVERY_FAULT, ORDER_IDS, Platform, Sim, assert_transport_faults, refused_at_once,
};
use crate::reveal::{self, Rules};

static DOUYIN: Platform<DouyinClient> = Platform {
    name: "douyin",
    app_key: "7311111111111111111",
    app_secret: "it-douyin-secret",
    sign_secret: None,
    service_id: Some("7311111111111111111"),
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
    let w = sim.yields_exactly(300).await;
    assert!(w.pages > w.windows, "some window had more than one page");
    assert!(w.encrypted_phones > 0 && w.virtual_phones > 0);
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&DOUYIN, EVERY_FAULT);
    let platform = sim
        .survives_every_fault(&["60000", "40003", "77777", "20000", "20001"])
        .await;
    assert_transport_faults(&platform);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&DOUYIN, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;

    let mut wrong = sim.session_signed_with("not-the-secret", &tokens);
    let err = refused_at_once(&sim, &client, &mut wrong).await;
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m))
            if m.contains("40003") && m.contains("isv.signature-invalid")),
        "{err:?}"
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

    let err = sim.dead_session(&client, "not-a-session", None).await;
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");

    // A dead session whose refresh token is dead too.
    let refresh = Some("not-a-refresh-token");
    let err = sim.dead_session(&client, "not-a-session", refresh).await;
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
        quota_is_a_ban: false,
        quota_documented: true,
        denial_documented: true,
    };
    reveal::within_the_rules(&DOUYIN, rules).await;
}

#[tokio::test]
async fn an_order_paid_later_is_listed_again_paid() {
    Sim::start(&DOUYIN, &[]).lists_a_later_payment().await;
}

/// A total that counts an order the platform never lists left the window's last page empty,
/// refused as malformed on every retry: the shop's syncs failed on that window for good.
#[tokio::test]
async fn an_overstated_total_reads_the_empty_last_page_as_empty() {
    Sim::start(&DOUYIN, &[])
        .walks_past_an_overstated_total()
        .await;
}
