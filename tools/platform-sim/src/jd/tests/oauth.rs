use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;

use super::*;
use crate::jd::shop_for;

#[actix_web::test]
async fn consent_form_code_tokens_and_refresh() {
    let state = state();
    let app = sim!(state);
    let page = send(&app, get("/jd/oauth2/to_login", &consent_query(APP, "xyz"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<form").count(), 1);
    assert!(
        page.body
            .contains("<form method=\"post\" action=\"/jd/oauth2/to_login\">")
    );
    assert_eq!(page.body.matches("type=\"submit\"").count(), 1);
    let shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert!(page.body.contains(&shop.nick));
    let inputs = hidden_inputs(&page.body);
    assert!(inputs.contains(&("redirect_uri".into(), REDIRECT.into())));
    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(&app, post_form("/jd/oauth2/to_login", form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND);
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    let prefix = format!("{REDIRECT}&code=");
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.ends_with("&state=xyz"), "{location}");
    let code = location[prefix.len()..]
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let t = exchange(&app, APP, SECRET, &code).await.json();
    for key in [
        "access_token",
        "refresh_token",
        "scope",
        "open_id",
        "uid",
        "xid",
        "token_type",
    ] {
        assert!(t[key].is_string(), "{key}: {t}");
    }
    assert_eq!(t["uid"], shop.user_id.to_string());
    assert!(t["expires_in"].as_i64().unwrap() > 0);
    let time = t["time"].as_i64().unwrap();
    assert!(
        (Utc::now().timestamp_millis() - time).abs() < 60_000,
        "13-digit ms"
    );
    // A code is single-use.
    let again = exchange(&app, APP, SECRET, &code).await.json();
    assert_eq!(again["code"], 402, "{again}");
    assert!(again["requestId"].is_string());

    let access = t["access_token"].as_str().unwrap();
    let call = |token: &str| {
        signed(
            SEARCH,
            token,
            &[
                ("start_date", &days_ago(1)),
                ("end_date", &now_bj()),
                ("order_state", ALL_STATES),
                ("optional_fields", "orderId"),
                ("dateType", "1"),
            ],
        )
    };
    assert!(
        api(&app, &call(access))
            .await
            .json()
            .get(RESPONSE)
            .is_some()
    );
    let q = [
        ("app_key", APP),
        ("app_secret", SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", t["refresh_token"].as_str().unwrap()),
    ];
    let fresh = send(&app, get("/jd/oauth2/refresh_token", &q)).await.json();
    let new_access = fresh["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(error_code(&api(&app, &call(access)).await), "19");
    assert!(
        api(&app, &call(new_access))
            .await
            .json()
            .get(RESPONSE)
            .is_some()
    );
    // The old refresh token is gone.
    let reused = send(&app, get("/jd/oauth2/refresh_token", &q)).await.json();
    assert_eq!(reused["code"], 403);
    let stats = state.stats.platform(crate::jd::PLATFORM);
    assert_eq!((stats.tokens_issued, stats.tokens_refreshed), (2, 1));
}

#[actix_web::test]
async fn consent_and_token_requests_are_checked() {
    let state = state();
    let app = sim!(state);
    for (drop_key, value) in [
        ("app_key", "unknown-app"),
        ("response_type", "token"),
        ("redirect_uri", "not a url"),
        ("scope", "snsapi_userinfo"),
    ] {
        let mut q = consent_query(APP, "s");
        for pair in q.iter_mut().filter(|(k, _)| *k == drop_key) {
            pair.1 = value;
        }
        let page = send(&app, get("/jd/oauth2/to_login", &q)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{drop_key}");
        assert!(!page.body.contains("<form"));
    }
    let code = authorize(&app, APP).await;
    assert_eq!(
        exchange(&app, APP, "wrong", &code).await.json()["code"],
        401
    );
    assert_eq!(
        exchange(&app, OTHER_APP, OTHER_SECRET, &code).await.json()["code"],
        402
    );
    let wrong_grant = [
        ("app_key", APP),
        ("app_secret", SECRET),
        ("grant_type", "refresh_token"),
        ("code", code.as_str()),
    ];
    let reply = send(&app, get("/jd/oauth2/access_token", &wrong_grant))
        .await
        .json();
    assert_eq!(reply["code"], 400);
    // The failed attempts did not use the code up.
    assert_eq!(
        exchange(&app, APP, SECRET, &code).await.status,
        StatusCode::OK
    );
    assert!(exchange(&app, APP, SECRET, &code).await.json()["access_token"].is_null());
}
