//! The Kuaishou adapter against the simulator: windows walked cursor by cursor. Live-stream peaks
//! put more than one page (50 orders) into some windows. API calls are signed with the app's
//! signSecret, OAuth calls carry the app secret.

use leadgen_platforms::kuaishou::{KuaishouClient, SIGN_SECRET};
use leadgen_platforms::session::{Session, SessionError};
use leadgen_platforms::{AppCredentials, PlatformClient, PlatformError, RevealPurpose};

use crate::harness::{
    Consent, ORDER_IDS, Platform, Sim, Sink, assert_transport_faults, every_fault_but, fast,
    last_days, walk,
};
use crate::reveal::{self, Rules};

const APP_KEY: &str = "ks731111111111111111";
const APP_SECRET: &str = "itKuaishouAppSecret";
const SIGN: &str = "itKuaishouSignSecret";

static KUAISHOU: Platform<KuaishouClient> = Platform {
    name: "kuaishou",
    app_key: APP_KEY,
    app_secret: APP_SECRET,
    sign_secret: Some(SIGN),
    service_id: None,
    redirect: "http://127.0.0.1:1/callback",
    orders_per_shop: 2000,
    // Every API method is a path of its own under the prefix.
    api_path: "",
    authorize_path: "/oauth/authorize",
    token_path: "/oauth2/access_token",
    consent: Consent::Form,
    admin: ORDER_IDS,
    tokens_expire: false,
    client: KuaishouClient::new,
};

/// The app with `secret` as its app secret and `sign` as its signSecret.
fn app_with(secret: &str, sign: &str) -> AppCredentials {
    let mut app = AppCredentials::new(APP_KEY, secret);
    app.extra.insert(SIGN_SECRET.into(), sign.into());
    app
}

#[tokio::test]
async fn a_range_yields_exactly_the_simulators_orders() {
    let sim = Sim::start(&KUAISHOU, &[]);
    let w = sim.yields_exactly(300).await;
    assert!(w.pages > w.windows, "some window had more than one page");
    assert!(w.encrypted_phones > 0 && w.virtual_phones > 0);
}

#[tokio::test]
async fn every_fault_at_once_still_yields_exactly_the_simulators_orders() {
    // Kuaishou documents no error code, so an expired token is learnt only once a call's
    // retries are spent (every answer is `Unknown`: 9 attempts here), and the call refreshes
    // once. A token that lasts 5 calls could expire again among the next call's faults before
    // it got through, and the walk would give up on a token that was fine when refreshed: its
    // tokens last 15 calls, longer than one call's retries, still expiring several times.
    let sim = Sim::start(&KUAISHOU, &every_fault_but("--token-ttl-calls", "15"));
    let platform = sim.survives_every_fault(&["17", "24", "802"]).await;
    assert_transport_faults(&platform);
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_error_and_a_dead_session_is_reported() {
    let sim = Sim::start(&KUAISHOU, &[]);
    let client = sim.client();
    let tokens = sim.authorized(&client).await;
    let range = last_days(2);
    let sink = Sink::default();

    // Signed with the app secret instead of the signSecret.
    let mut wrong = Session::new(
        app_with(APP_SECRET, APP_SECRET),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        fast(),
    );
    let err = walk(&client, &mut wrong, range, &sink)
        .await
        .expect_err("bad signature");
    // Kuaishou documents no error code: its signature failure (the simulator's 16) is unknown,
    // retried with bounded backoff and one refresh, then reported with its code and text.
    assert!(
        matches!(err, SessionError::Platform(PlatformError::Unknown { ref code, ref message }) if code == "16" && !message.is_empty()),
        "{err:?}"
    );
    // OAuth takes the app secret, not the signSecret.
    let consent = client.authorize_url(&sim.app(APP_SECRET), KUAISHOU.redirect, "s-2");
    let code = sim.approve(&consent).await;
    let refused = client
        .exchange_code(&sim.app(SIGN), &code, KUAISHOU.redirect)
        .await;
    // A wrong app secret is ours to mend, not a refused grant.
    assert!(
        matches!(refused, Err(PlatformError::InvalidRequest(ref m)) if m.contains("invalid_client")),
        "{refused:?}"
    );
    // Refreshing with it is the platform's error, not a dead session (which marked every shop
    // expired and asked its merchant to authorize again).
    let mut wrong_secret = Session::new(
        app_with("not-the-secret", SIGN),
        tokens.access_token.clone(),
        tokens.refresh_token.clone(),
        fast(),
    );
    let err = wrong_secret
        .refresh_now(&client, &sink)
        .await
        .expect_err("a wrong app secret");
    assert!(
        matches!(err, SessionError::Platform(PlatformError::InvalidRequest(ref m)) if m.contains("invalid_client")),
        "{err:?}"
    );

    let err = sim.dead_session(&client, "not-a-session", None).await;
    // Its "token invalid" (the simulator's 25) is no documented code: without a refresh token
    // the shop is not declared expired for it; retried, then reported with its code.
    assert!(
        matches!(err, SessionError::Platform(PlatformError::Unknown { ref code, .. }) if code == "25"),
        "{err:?}"
    );

    // A dead session whose refresh token is refused as OAuth 2.0 defines it (`invalid_grant`).
    let refresh = Some("not-a-refresh-token");
    let err = sim.dead_session(&client, "not-a-session", refresh).await;
    assert!(matches!(err, SessionError::Expired(_)), "{err:?}");
}

/// Kuaishou permits fulfilment only (its API text: only for shipping physical orders).
#[tokio::test]
async fn reveals_a_buyers_phone_within_the_platforms_rules() {
    let rules = Rules {
        purpose: RevealPurpose::Fulfilment,
        refused: Some(RevealPurpose::AfterSales),
        ungranted: None,
        args: &[],
        method: "open.order.decrypt.batch",
        expiring: true,
        quota_is_a_ban: false,
        quota_documented: false,
        denial_documented: false,
    };
    reveal::within_the_rules(&KUAISHOU, rules).await;
}

#[tokio::test]
async fn an_order_paid_later_is_listed_again_paid() {
    Sim::start(&KUAISHOU, &[]).lists_a_later_payment().await;
}
