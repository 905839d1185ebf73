use actix_web::http::StatusCode;

use super::*;
use crate::pdd::shop_for;

#[actix_web::test]
async fn consent_code_tokens_and_refresh() {
    let state = state();
    let app = sim!(state);
    let uri = format!("/pdd/service-market/auth?{}", consent_query(APP));
    let page = send(&app, TestRequest::get().uri(&uri).to_request()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<form").count(), 1);
    assert!(
        page.body
            .contains("<form method=\"post\" action=\"/pdd/service-market/auth\">")
    );
    assert_eq!(page.body.matches("type=\"submit\"").count(), 1);
    let shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert!(page.body.contains(&shop.nick));

    let code = authorize(&app, APP).await;
    let t = exchange(&app, APP, SECRET, &code).await;
    for key in [
        "access_token",
        "refresh_token",
        "owner_id",
        "owner_name",
        "request_id",
    ] {
        assert!(t[key].is_string(), "{key}: {t}");
    }
    for key in [
        "expires_in",
        "expires_at",
        "refresh_token_expires_in",
        "refresh_token_expires_at",
    ] {
        assert!(t[key].is_i64(), "{key}: {t}");
    }
    assert!(
        t.get("pop_auth_token_create_response").is_none(),
        "unwrapped"
    );
    assert!(
        t["scope"]
            .as_array()
            .unwrap()
            .contains(&json!("pdd.order.list.get"))
    );
    assert_eq!(t["owner_id"], shop.user_id.to_string());
    assert!(
        (t["expires_at"].as_i64().unwrap()
            - Utc::now().timestamp()
            - t["expires_in"].as_i64().unwrap())
        .abs()
            < 60
    );
    let again = exchange(&app, APP, SECRET, &code).await;
    assert_eq!(
        again["error_response"]["error_code"], 20001,
        "single-use: {again}"
    );

    let access = t["access_token"].as_str().unwrap();
    let b = window(Utc::now().timestamp() - 3600, Utc::now().timestamp());
    let call = |token: &str| signed(LIST, token, &pairs(&b));
    assert!(
        api(&app, &call(access))
            .await
            .json()
            .get(RESPONSE)
            .is_some()
    );
    let refresh = json!({"client_id": APP, "client_secret": SECRET,
        "grant_type": "refresh_token", "refresh_token": t["refresh_token"]});
    let fresh = token_call(&app, refresh.clone()).await;
    let new_access = fresh["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(error_code(&api(&app, &call(access)).await), 10019);
    assert!(
        api(&app, &call(new_access))
            .await
            .json()
            .get(RESPONSE)
            .is_some()
    );
    let reused = token_call(&app, refresh).await;
    assert_eq!(reused["error_response"]["error_code"], 20002);
    let stats = state.stats.platform(crate::pdd::PLATFORM);
    assert_eq!((stats.tokens_issued, stats.tokens_refreshed), (2, 1));
}

#[actix_web::test]
async fn consent_and_token_requests_are_checked() {
    let state = state();
    let app = sim!(state);
    for query in [
        consent_query("unknown-client"),
        consent_query(APP).replace("response_type=code", "response_type=token"),
        consent_query(APP).replace("redirect_uri=https", "redirect_uri=ftp"),
    ] {
        let uri = format!("/pdd/service-market/auth?{query}");
        let page = send(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(!page.body.contains("<form"));
    }
    let code = authorize(&app, APP).await;
    let wrong = exchange(&app, APP, "wrong", &code).await;
    assert_eq!(wrong["error_response"]["error_code"], 10016);
    let other = exchange(&app, OTHER_APP, OTHER_SECRET, &code).await;
    assert_eq!(other["error_response"]["error_code"], 20001);
    let bad_grant = token_call(
        &app,
        json!({"client_id": APP, "client_secret": SECRET, "grant_type": "password", "code": code}),
    )
    .await;
    assert_eq!(bad_grant["error_response"]["error_code"], 10001);
    // A form body is not the JSON endpoint's.
    let body = form(&[
        ("client_id", APP),
        ("client_secret", SECRET),
        ("grant_type", "authorization_code"),
        ("code", &code),
    ]);
    let reply = send(&app, post_form("/pdd/oauth/token", body)).await.json();
    assert_eq!(reply["error_response"]["error_code"], 10001);
    // None of these used the code up.
    assert!(exchange(&app, APP, SECRET, &code).await["access_token"].is_string());
}
