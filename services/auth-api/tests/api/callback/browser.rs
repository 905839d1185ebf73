//! A consent completes only in the browser that asked for it (its cookie), unless binding is
//! off.

use reqwest::StatusCode;

use super::{
    TokenEndpoint, app_with_token_endpoint, app_with_token_endpoint_and, location_of,
    pending_with_cookies, refusals, set_cookies, taobao_tokens,
};
use crate::helpers::{Relay, expect_envelope};

#[tokio::test]
async fn a_consent_completes_only_in_the_browser_that_asked_for_it() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("mine", "2200001")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    let (id, state, cookies) =
        pending_with_cookies(&app, Some("https://app.example.com/shops")).await;
    // One cookie holding the state, sent back only to our callback, unreadable by scripts,
    // and no longer than the consent lasts (30 minutes).
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("leadgen_oauth_"), "{cookie}");
    assert!(cookie.contains(&format!("={state};")), "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/v1/lead-generation/orders/platforms/auth/callback",
        "Max-Age=1800",
    ] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP here: {cookie}");

    // Someone who only learnt the `state` (no code: nothing of a shop to keep from them) is
    // refused without spending the merchant's consent.
    let probe = app.callback_elsewhere(&[("state", &state)]).await;
    assert_eq!(probe.status(), StatusCode::FOUND);
    assert!(
        location_of(&probe).ends_with("&status=PENDING_AUTH&error=40002"),
        "{}",
        location_of(&probe)
    );
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "PENDING_AUTH");
    assert!(row.oauth_state_hash.is_some(), "the consent is not spent");

    // The link opened in another browser (a merchant sent someone else's consent link): refused
    // and spent, nothing exchanged, and the attempt in the operation log.
    let elsewhere = app
        .callback_elsewhere(&[("code", "victims-grant"), ("state", &state)])
        .await;
    assert_eq!(elsewhere.status(), StatusCode::FOUND);
    assert_eq!(
        location_of(&elsewhere),
        format!(
            "https://app.example.com/shops?platformId={id}&platformType=TAOBAO\
             &status=INVALID&error=40002"
        )
    );
    assert!(endpoint.forms().is_empty(), "no code was exchanged");
    let row = app.platform_row(id).await;
    assert_eq!(row.status, "INVALID");
    assert!(row.oauth_state_hash.is_none(), "the consent is spent");
    let refused = refusals(&app).await;
    assert_eq!(
        refused,
        [format!("40002 {}", auth_api::error::FOREIGN_BROWSER)],
        "the spent consent only: the probe is not the merchant's doing"
    );
    // The same link forwarded back to the browser that asked cannot use the victim's code.
    let forwarded = app
        .callback(&[("code", "victims-grant"), ("state", &state)])
        .await;
    expect_envelope(forwarded, StatusCode::BAD_REQUEST, 40002).await;
    assert!(endpoint.forms().is_empty(), "still no code exchanged");
    assert_eq!(app.platform_row(id).await.status, "INVALID");

    // A consent completed in the browser that asked connects the shop, and its cookie is removed.
    let (id, state, cookies) = pending_with_cookies(&app, None).await;
    let done = app
        .callback(&[("code", "my-grant"), ("state", &state)])
        .await;
    let removal = set_cookies(&done);
    expect_envelope(done, StatusCode::OK, 200).await;
    assert_eq!(removal.len(), 1, "{removal:?}");
    let name = cookies[0].split('=').next().expect("name");
    assert!(removal[0].starts_with(&format!("{name}=;")), "{removal:?}");
    assert!(removal[0].contains("Max-Age=0"), "{removal:?}");
    assert!(
        removal[0].contains("Path=/api/v1/lead-generation/orders/platforms/auth/callback"),
        "{removal:?}"
    );
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
    assert_eq!(endpoint.forms().len(), 1);
}

/// Over HTTPS (the gateway's `X-Forwarded-Proto`) the cookie is a `__Host-` one, which a
/// sibling host cannot plant: the callback reads only that name, so a cookie of the plain name
/// (one any `*.example.com` site could set) binds nothing.
#[tokio::test]
async fn over_https_the_consent_cookie_is_the_hosts_own() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("host", "2200002")).await;
    let app = app_with_token_endpoint(&endpoint).await;
    // A browser whose cookies this test sends by hand, over HTTPS as the gateway reports it.
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let callback = |state: &str, cookie: &str| {
        bare.get(app.url("/platforms/auth/callback"))
            .query(&[("code", "grant"), ("state", state)])
            .header("x-forwarded-proto", "https")
            .header("cookie", cookie.to_owned())
            .send()
    };

    let (id, state, cookies) = pending_over_https(&app).await;
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Host-leadgen_oauth_"), "{cookie}");
    for attribute in ["Secure", "Path=/;", "HttpOnly", "SameSite=Lax"] {
        assert!(
            cookie.contains(attribute) || cookie.ends_with(attribute.trim_end_matches(';')),
            "{attribute}: {cookie}"
        );
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The plain name, as a sibling host could plant it: not this browser's consent.
    let (name, _) = cookie.split_once('=').expect("name");
    let plain = name.trim_start_matches("__Host-");
    let planted = callback(&state, &format!("{plain}={state}"))
        .await
        .expect("GET");
    expect_envelope(planted, StatusCode::BAD_REQUEST, 40002).await;
    assert!(endpoint.forms().is_empty(), "no code was exchanged");
    assert_eq!(app.platform_row(id).await.status, "INVALID");

    // The host's own cookie completes a consent, and is removed as it was set.
    let (id, state, cookies) = pending_over_https(&app).await;
    let (pair, _) = cookies[0].split_once(';').expect("cookie");
    let done = callback(&state, pair).await.expect("GET");
    let removal = set_cookies(&done);
    expect_envelope(done, StatusCode::OK, 200).await;
    assert_eq!(app.platform_row(id).await.status, "ACTIVE");
    assert!(
        removal[0].starts_with("__Host-") && removal[0].contains("Secure"),
        "{removal:?}"
    );
}

/// `POST /platforms/auth` as the gateway passes on an HTTPS request: the new authorization's
/// id, its `state`, and the answer's `Set-Cookie` headers.
async fn pending_over_https(app: &crate::helpers::TestApp) -> (i64, String, Vec<String>) {
    let created = app
        .client
        .post(app.url("/platforms/auth"))
        .bearer_auth(crate::helpers::token(1, &[crate::helpers::AUTH]))
        .header("x-forwarded-proto", "https")
        .json(&serde_json::json!({
            "platformType": "TAOBAO",
            "authInfo": { "appKey": super::APP_KEY, "appSecret": super::APP_SECRET },
        }))
        .send()
        .await
        .expect("POST");
    let cookies = set_cookies(&created);
    let body = expect_envelope(created, StatusCode::CREATED, 201).await;
    let id = body["data"]["platformId"].as_i64().expect("platformId");
    (id, super::state_of(&body), cookies)
}

#[tokio::test]
async fn without_browser_binding_any_browser_completes_the_consent() {
    let endpoint = TokenEndpoint::start(200, taobao_tokens("mine", "2200001")).await;
    let app = app_with_token_endpoint_and(&endpoint, Relay::Running, |s| {
        s.oauth.bind_state_to_browser = false
    })
    .await;
    let (_, state, cookies) = pending_with_cookies(&app, None).await;
    assert!(cookies.is_empty(), "no cookie when off");
    let done = app
        .callback_elsewhere(&[("code", "a-grant"), ("state", &state)])
        .await;
    let done = expect_envelope(done, StatusCode::OK, 200).await;
    assert_eq!(done["data"]["status"], "ACTIVE");
}
