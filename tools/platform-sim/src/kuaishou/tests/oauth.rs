use super::*;

#[actix_web::test]
async fn consent_page_and_its_errors() {
    let state = state();
    let app = sim!(state);
    let good = [
        ("app_id", APP),
        ("redirect_uri", REDIRECT),
        ("scope", "merchant_order,user_info"),
        ("response_type", "code"),
        ("state", "x"),
    ];
    let page = send(
        &app,
        get(&format!("/kuaishou/oauth/authorize?{}", form(&good))),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<form").count(), 1);
    assert!(page.body.contains("merchant_order") && page.body.contains("确认授权"));
    for (key, value) in [
        ("app_id", "nobody"),
        ("response_type", "token"),
        ("redirect_uri", "not a url"),
        ("scope", "merchant_everything"),
        ("scope", ""),
    ] {
        let pairs: Vec<(&str, &str)> = good
            .iter()
            .map(|(k, v)| if *k == key { (*k, value) } else { (*k, *v) })
            .collect();
        let reply = send(
            &app,
            get(&format!("/kuaishou/oauth/authorize?{}", form(&pairs))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{key}={value}");
    }
}

#[actix_web::test]
async fn codes_tokens_and_refresh() {
    let state = state();
    let app = sim!(state);
    let code = authorize(&app).await;
    // The signSecret is not the app secret.
    let wrong = exchange(&app, APP, SIGN_SECRET, &code).await;
    assert_eq!(
        (wrong["result"].as_u64(), wrong["error"].as_str()),
        (Some(100_200_101), Some("invalid_client"))
    );
    let first = exchange(&app, APP, APP_SECRET, &code).await;
    assert_eq!(first["result"], 1, "{first}");
    assert_eq!(first["expires_in"], state.config.token_expires_in);
    assert_eq!(
        first["refresh_token_expires_in"],
        state.config.refresh_expires_in
    );
    assert!(
        first["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ChFvYXV0aC5hY2Nlc3NUb2tlbh")
    );
    let shop = send(&app, get(&format!("/_sim/kuaishou/shop?app_key={APP}")))
        .await
        .json();
    assert_eq!(first["open_id"], shop["open_id"]);
    let again = exchange(&app, APP, APP_SECRET, &code).await;
    assert_eq!(again["error"], "invalid_grant", "single use");
    let bad_grant = format!(
        "/kuaishou/oauth2/access_token?{}",
        form(&[
            ("app_id", APP),
            ("app_secret", APP_SECRET),
            ("grant_type", "authorization_code"),
            ("code", "x")
        ])
    );
    assert_eq!(
        send(&app, get(&bad_grant)).await.json()["error"],
        "unsupported_grant_type"
    );

    let refresh = |rt: &str, secret: &str| {
        post_form(
            "/kuaishou/oauth2/refresh_token",
            form(&[
                ("grant_type", "refresh_token"),
                ("app_id", APP),
                ("app_secret", secret),
                ("refresh_token", rt),
            ]),
        )
    };
    let rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        send(&app, refresh(rt, "nope")).await.json()["error"],
        "invalid_client"
    );
    let second = send(&app, refresh(rt, APP_SECRET)).await.json();
    assert_eq!(second["result"], 1, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(
        send(&app, refresh(rt, APP_SECRET)).await.json()["error"],
        "invalid_grant",
        "rotated"
    );
    let old = api(
        &app,
        &list_call(first["access_token"].as_str().unwrap(), 1, json!({})),
    )
    .await;
    assert_eq!(result_of(&old), 25);
    let new = api(
        &app,
        &list_call(second["access_token"].as_str().unwrap(), 1, json!({})),
    )
    .await;
    assert_eq!(result_of(&new), 1);
    let stats = state.stats.platform(crate::kuaishou::PLATFORM);
    assert_eq!((stats.tokens_issued, stats.tokens_refreshed), (2, 1));
}
