use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::test::TestRequest;

use leadgen_platforms::sign::SignMethod;

use super::*;
use crate::taobao::shop_for;

const FIELDS: &str = "tid,tid_str,status,type,created,payment";

#[actix_web::test]
async fn consent_form_code_token_and_signed_call() {
    let state = state();
    let app = sim!(state);
    let query = form(&[
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", REDIRECT),
        ("state", "xyz"),
        ("view", "web"),
    ]);
    let page = send(
        &app,
        TestRequest::get()
            .uri(&format!("/taobao/authorize?{query}"))
            .to_request(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<form").count(), 1);
    assert!(
        page.body
            .contains("<form method=\"post\" action=\"/taobao/authorize\">")
    );
    assert_eq!(page.body.matches("type=\"submit\"").count(), 1);
    assert!(page.body.contains("授权并登录"));
    let shop = shop_for(&state, &ShopKey::default_seller(APP));
    assert!(page.body.contains(&shop.nick));
    let inputs = hidden_inputs(&page.body);
    assert!(inputs.contains(&("redirect_uri".into(), REDIRECT.into())));
    assert!(inputs.contains(&("state".into(), "xyz".into())));

    let pairs: Vec<(&str, &str)> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let approved = send(&app, post_form("/taobao/authorize", form(&pairs))).await;
    assert_eq!(approved.status, StatusCode::FOUND);
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    let prefix = format!("{REDIRECT}&code=");
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.ends_with("&state=xyz"), "{location}");
    let code = location[prefix.len()..].split('&').next().unwrap();

    let token = exchange(&app, APP, SECRET, code).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let t = token.json();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().unwrap() > 0 && t["re_expires_in"].as_i64().unwrap() > 0);
    for key in [
        "r1_expires_in",
        "r2_expires_in",
        "w1_expires_in",
        "w2_expires_in",
        "expire_time",
        "refresh_token_valid_time",
        "r1_valid",
        "r2_valid",
        "w1_valid",
        "w2_valid",
    ] {
        assert!(t[key].is_i64(), "{key}");
    }
    assert!(t["expire_time"].as_i64().unwrap() > Utc::now().timestamp_millis());
    assert_eq!(t["taobao_user_id"], shop.user_id.to_string());
    assert_eq!(t["taobao_open_uid"], shop.open_uid.as_str());
    let nick = t["taobao_user_nick"].as_str().unwrap();
    assert!(nick.contains('%'));
    assert_eq!(urlencoding::decode(nick).unwrap(), shop.nick);
    let session = t["access_token"].as_str().unwrap();

    let extra = [
        ("fields", FIELDS),
        ("start_created", &days_ago(30)),
        ("end_created", &now_bj()),
    ];
    for method in [SignMethod::Md5, SignMethod::HmacMd5, SignMethod::HmacSha256] {
        let p = signed_with(
            APP,
            SECRET,
            method,
            "taobao.trades.sold.get",
            session,
            &extra,
        );
        for reply in [api(&app, &p).await, api_get(&app, &p).await] {
            assert_eq!(reply.status, StatusCode::OK);
            let v = reply.json();
            let r = &v["trades_sold_get_response"];
            assert!(r["total_results"].as_u64().unwrap() > 0, "{v}");
            assert!(r["request_id"].is_string());
            assert!(r["trades"]["trade"][0]["tid"].is_u64());
            assert_eq!(
                r["trades"]["trade"][0]["tid_str"].as_str().unwrap().len(),
                19
            );
        }
    }
    // `access_token` is accepted in place of `session`.
    let mut p = signed("taobao.trades.sold.get", "", &extra);
    p.insert("access_token".into(), session.into());
    resign(&mut p, SECRET, SignMethod::Md5);
    assert!(
        api(&app, &p)
            .await
            .json()
            .get("trades_sold_get_response")
            .is_some()
    );
    let stats = state.stats.platform(crate::taobao::PLATFORM);
    assert_eq!((stats.tokens_issued, stats.authorizations_approved), (1, 1));
}

#[actix_web::test]
async fn authorize_rejects_bad_requests() {
    let state = state();
    let app = sim!(state);
    let cases = [
        form(&[
            ("response_type", "token"),
            ("client_id", APP),
            ("redirect_uri", REDIRECT),
        ]),
        form(&[("client_id", APP), ("redirect_uri", REDIRECT)]),
        form(&[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT),
        ]),
        form(&[
            ("response_type", "code"),
            ("client_id", APP),
            ("redirect_uri", "/relative/cb"),
        ]),
        form(&[
            ("response_type", "code"),
            ("client_id", APP),
            ("redirect_uri", "ftp://x.example/cb"),
        ]),
        form(&[("response_type", "code"), ("client_id", APP)]),
    ];
    for query in &cases {
        let page = send(
            &app,
            TestRequest::get()
                .uri(&format!("/taobao/authorize?{query}"))
                .to_request(),
        )
        .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.body.contains("授权失败"));
        let post = send(&app, post_form("/taobao/authorize", query.clone())).await;
        assert_eq!(post.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

#[actix_web::test]
async fn state_is_echoed_only_when_given() {
    let state = state();
    let app = sim!(state);
    let body = form(&[
        ("response_type", "code"),
        ("client_id", APP),
        ("redirect_uri", "http://localhost:8080/cb"),
    ]);
    let approved = send(&app, post_form("/taobao/authorize", body)).await;
    let location = approved.headers.get(LOCATION).unwrap().to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:8080/cb?code="),
        "{location}"
    );
    assert!(!location.contains("state="));
}

#[actix_web::test]
async fn token_endpoint_errors() {
    let state = state();
    let app = sim!(state);
    let code = authorize(&app, APP).await;
    let wrong_secret = exchange(&app, APP, "nope", &code).await;
    assert_eq!(wrong_secret.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");
    let other_client = exchange(&app, OTHER_APP, OTHER_SECRET, &code).await;
    assert_eq!(
        (other_client.status, other_client.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let wrong_redirect = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("redirect_uri", "https://client.example.com/other"),
    ]);
    let reply = send(&app, post_form("/taobao/token", wrong_redirect)).await;
    assert_eq!(reply.json()["error"], "invalid_grant");
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );
    assert_eq!(
        exchange(&app, APP, SECRET, &code).await.status,
        StatusCode::OK
    );
    let reused = exchange(&app, APP, SECRET, &code).await;
    assert_eq!(
        (reused.status, reused.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let bad_grant = form(&[
        ("grant_type", "password"),
        ("client_id", APP),
        ("client_secret", SECRET),
    ]);
    assert_eq!(
        send(&app, post_form("/taobao/token", bad_grant))
            .await
            .json()["error"],
        "unsupported_grant_type"
    );
    let missing = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("client_secret", SECRET),
    ]);
    let reply = send(&app, post_form("/taobao/token", missing)).await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
}

#[actix_web::test]
async fn refresh_replaces_both_tokens_and_the_shop_is_stable() {
    let state = state();
    let app = sim!(state);
    let first = login(&app).await;
    let old_access = first["access_token"].as_str().unwrap();
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let extra = [
        ("fields", FIELDS),
        ("start_created", &days_ago(10)),
        ("end_created", &now_bj()),
    ];
    let call = |session: String| signed("taobao.trades.sold.get", &session, &extra);
    assert!(
        api(&app, &call(old_access.into()))
            .await
            .json()
            .get("trades_sold_get_response")
            .is_some()
    );

    let refresh = |rt: &str| {
        form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", APP),
            ("client_secret", SECRET),
        ])
    };
    let reply = send(&app, post_form("/taobao/token", refresh(old_refresh))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = reply.json();
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["taobao_user_id"], first["taobao_user_id"]);

    let old = api(&app, &call(old_access.into())).await;
    assert_eq!(error_code(&old), 27);
    assert_eq!(
        old.json()["error_response"]["sub_code"],
        "invalid-sessionkey"
    );
    let new_access = second["access_token"].as_str().unwrap().to_owned();
    assert!(
        api(&app, &call(new_access))
            .await
            .json()
            .get("trades_sold_get_response")
            .is_some()
    );
    let reused = send(&app, post_form("/taobao/token", refresh(old_refresh))).await;
    assert_eq!(reused.json()["error"], "invalid_grant");

    // Authorizing the same app again lands in the same shop.
    let third = login(&app).await;
    assert_eq!(third["taobao_user_id"], first["taobao_user_id"]);
    assert_eq!(third["taobao_user_nick"], first["taobao_user_nick"]);
}
