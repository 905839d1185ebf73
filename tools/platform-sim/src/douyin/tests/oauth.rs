use super::*;

#[actix_web::test]
async fn consent_page_and_its_errors() {
    let state = state();
    let app = sim!(state);
    let q = form(&[
        ("service_id", APP),
        ("state", "s<1>"),
        ("redirect_uri", REDIRECT),
    ]);
    let page = send(&app, get(&format!("/douyin/authorize?{q}"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("同意授权") && page.body.contains("s&lt;1&gt;"));
    let inputs = hidden_inputs(&page.body);
    assert!(inputs.contains(&("redirect_uri".into(), REDIRECT.into())));
    for bad in [
        form(&[("state", "s")]),
        form(&[("service_id", "7999"), ("redirect_uri", REDIRECT)]),
        form(&[("service_id", APP)]),
        form(&[("service_id", APP), ("redirect_uri", "ftp://x")]),
    ] {
        let reply = send(&app, get(&format!("/douyin/authorize?{bad}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!reply.body.contains("<form"));
    }
    let denied = send(
        &app,
        post_form("/douyin/authorize", form(&[("service_id", APP)])),
    )
    .await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn codes_are_single_use_and_tokens_carry_the_shop() {
    let state = state();
    let app = sim!(state);
    let code = authorize(&app).await;
    let create = |code: &str| {
        call(
            "token.create",
            None,
            json!({"code": code, "grant_type": "authorization_code"}),
        )
    };
    let first = api(&app, &create(&code)).await;
    assert_eq!(code_of(&first).0, 10000, "{}", first.body);
    let data = &first.json()["data"];
    let shop = send(&app, get(&format!("/_sim/douyin/shop?app_key={APP}")))
        .await
        .json();
    assert_eq!(data["shop_id"], shop["shop_id"]);
    assert_eq!(data["shop_name"], shop["shop_name"]);
    assert_eq!(data["expires_in"], state.config.token_expires_in);
    assert_eq!(data["access_token"].as_str().unwrap().len(), 36);
    let again = api(&app, &create(&code)).await;
    assert_eq!(
        code_of(&again),
        (50001, "dop.token-generate-failed:code-invalid".into())
    );
    let other_app = call_with(
        OTHER_APP,
        OTHER_SECRET,
        SignMethod::HmacSha256,
        "token.create",
        None,
        &param_json(&json!({"code": authorize(&app).await, "grant_type": "authorization_code"})),
    );
    assert_eq!(
        code_of(&api(&app, &other_app).await).0,
        50001,
        "codes belong to one app"
    );
    let wrong_grant = call(
        "token.create",
        None,
        json!({"code": "x", "grant_type": "password"}),
    );
    let reply = api(&app, &wrong_grant).await;
    assert_eq!(
        code_of(&reply),
        (50001, "dop.token-generate-failed:grant-type-invalid".into())
    );

    // Self-use apps: the app's own shop id, no code.
    let shop_id: u64 = shop["shop_id"].as_str().unwrap().parse().unwrap();
    let own = call(
        "token.create",
        None,
        json!({"code": "", "grant_type": "authorization_self", "shop_id": shop_id}),
    );
    assert_eq!(code_of(&api(&app, &own).await).0, 10000);
    let foreign = call(
        "token.create",
        None,
        json!({"code": "", "grant_type": "authorization_self", "shop_id": 1}),
    );
    assert_eq!(code_of(&api(&app, &foreign).await).0, 50001);
}

#[actix_web::test]
async fn refresh_answers_by_the_platforms_rules() {
    let state = state();
    let app = sim!(state);
    let data = login(&app).await;
    let (access, refresh) = (
        data["access_token"].as_str().unwrap().to_owned(),
        data["refresh_token"].as_str().unwrap().to_owned(),
    );
    let refresh_call = |rt: &str| {
        call(
            "token.refresh",
            None,
            json!({"grant_type": "refresh_token", "refresh_token": rt}),
        )
    };
    // More than an hour before expiry: the same pair.
    let same = api(&app, &refresh_call(&refresh)).await.json();
    assert_eq!(same["code"], 10000, "{same}");
    assert_eq!(same["data"]["access_token"], access.as_str());
    // Expired: a new pair; the old one is dead.
    state
        .douyin
        .tokens()
        .set_expiry(&access, Utc::now() - TimeDelta::seconds(1));
    let fresh = api(&app, &refresh_call(&refresh)).await.json();
    let new_access = fresh["data"]["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_access, access);
    assert_eq!(
        state.douyin.tokens().refresh_of(&new_access).as_deref(),
        fresh["data"]["refresh_token"].as_str()
    );
    let old = api(&app, &search(&access, 1, json!({}))).await;
    assert_eq!(code_of(&old), (40003, "isv.access-token-no-existed".into()));
    assert_eq!(
        code_of(&api(&app, &search(&new_access, 1, json!({}))).await).0,
        10000
    );
    let reused = api(&app, &refresh_call(&refresh)).await;
    assert_eq!(
        code_of(&reused),
        (50001, "dop.token-generate-failed:token-invalid".into())
    );
    let bad_grant = call(
        "token.refresh",
        None,
        json!({"grant_type": "code", "refresh_token": "x"}),
    );
    assert_eq!(code_of(&api(&app, &bad_grant).await).0, 50001);
    let stats = state.stats.platform(crate::douyin::PLATFORM);
    assert_eq!(stats.tokens_refreshed, 2);
}
