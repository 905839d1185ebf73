use std::time::Duration;

use chrono::{TimeZone, Utc};
use leadgen_domain::{ContactKind, Money, NeutralStatus};
use serde_json::{Value, json};

use super::*;
use crate::registry::Endpoint;

fn client() -> KuaishouClient {
    KuaishouClient::new(
        Transport::new(Endpoint {
            api_url: "https://openapi.kwaixiaodian.com".into(),
            authorize_url: "https://open.kwaixiaodian.com/oauth/authorize".into(),
            token_url: "https://openapi.kwaixiaodian.com/oauth2/access_token".into(),
            qps: 10,
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    )
}

fn page() -> Value {
    serde_json::from_str(include_str!(
        "../../tests/fixtures/kuaishou/order_cursor_list.json"
    ))
    .unwrap()
}

#[test]
fn parses_a_recorded_cursor_page() {
    let json = page();
    let (orders, cursor) = parse_cursor_page(&json).unwrap();
    assert_eq!(orders.len(), 4);
    assert_eq!(
        cursor.as_deref(),
        Some("MTcxNjA5MDAwMDEyM18yNDEyMzQ1Njc4OTAwMDA0")
    );
    assert_eq!(
        orders[0].raw, json["data"]["orderList"][0],
        "raw kept untouched"
    );
    let first = orders[0].parsed.as_ref().unwrap();
    assert_eq!(first.order_id, "2412345678901234");
    assert_eq!(first.status, NeutralStatus::Paid);
    assert_eq!(first.platform_status, "30");
    assert_eq!(first.created_at.timestamp_millis(), 1716170292123);
    assert_eq!(first.paid_at.unwrap().timestamp_millis(), 1716170320456);
    assert_eq!(first.amount, Money(19900));
    assert!(!first.refunded);
    assert_eq!(
        first.buyer.open_id.as_deref(),
        Some("f18759ac87a28ea514bf5724a5df5751")
    );
    assert_eq!(first.buyer.nick.as_deref(), Some("快手用户***88"));
    let phone = first.receiver.phone.as_ref().unwrap();
    assert_eq!(phone.kind, ContactKind::PlatformEncrypted);
    assert_eq!(phone.display_phone(), "138****5678");
    let name = first.receiver.name.as_ref().unwrap();
    assert_eq!(
        (name.kind, name.display_name()),
        (ContactKind::PlatformEncrypted, "张*".to_owned())
    );
    assert_eq!(
        first.receiver.address.as_ref().unwrap().masked.as_deref(),
        Some("文三路**号")
    );
    assert_eq!(first.receiver.region, "浙江省 杭州市 西湖区 三墩镇");
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].sku_id.as_deref(), Some("1703000000001"));
    assert_eq!(first.items[0].price, Money(21900));

    let closed = orders[1].parsed.as_ref().unwrap();
    assert_eq!(closed.status, NeutralStatus::Closed);
    assert!(closed.refunded);
    assert_eq!(closed.items[0].quantity, 2);

    let repeat = orders[2].parsed.as_ref().unwrap();
    assert_eq!(repeat.status, NeutralStatus::Completed);
    assert_eq!(repeat.buyer.open_id, first.buyer.open_id);
    let phone = repeat.receiver.phone.as_ref().unwrap();
    assert_eq!(phone.kind, ContactKind::Virtual);
    assert_eq!(phone.value, "17012345678-1234");

    assert_eq!(orders[3].order_id.as_deref(), Some("2412345678900004"));
    assert!(
        orders[3]
            .parsed
            .as_ref()
            .unwrap_err()
            .contains("未知的订单状态")
    );
}

/// A last page that leaves `orderList` out but carries another non-empty list may hold its
/// orders under another name: malformed, never an empty page that ends the window.
#[test]
fn a_last_page_with_its_orders_under_another_name_is_malformed() {
    let mut json = page();
    let orders = json["data"]["orderList"].take();
    json["data"].as_object_mut().unwrap().remove("orderList");
    json["data"]["cursor"] = json!("nomore");
    json["data"]["orders"] = orders;
    assert!(matches!(
        parse_cursor_page(&json),
        Err(PlatformError::Malformed(ref m)) if m.contains("orders")
    ));
    json["data"]["orders"] = json!([]);
    let (orders, cursor) = parse_cursor_page(&json).unwrap();
    assert!(orders.is_empty(), "nothing anywhere: an empty last page");
    assert_eq!(cursor.as_deref(), Some("nomore"));
}

/// A plain field in no shape Kuaishou is known to send (no ciphertext beside it) is opaque,
/// never the buyer's phone, name or address in clear.
#[test]
fn an_unrecognised_plain_value_is_never_a_plain_contact() {
    let mut order = page()["data"]["orderList"][0].clone();
    let addr = &mut order["orderAddress"];
    for key in ["encryptedMobile", "encryptedConsignee", "encryptedAddress"] {
        addr[key] = json!("");
    }
    addr["mobile"] = json!("QUJDREVGRw==");
    addr["consignee"] = json!("<encrypted>");
    addr["address"] = json!("QUJDREVGRw");
    let parsed = parse_order(&order).unwrap();
    let kinds = [
        parsed.receiver.phone.map(|f| f.kind),
        parsed.receiver.name.map(|f| f.kind),
        parsed.receiver.address.map(|f| f.kind),
    ];
    assert_eq!(kinds, [Some(ContactKind::PlatformEncrypted); 3]);
    order["orderAddress"]["mobile"] = json!("13800000001");
    let parsed = parse_order(&order).unwrap();
    assert_eq!(
        parsed.receiver.phone.map(|f| f.kind),
        Some(ContactKind::Plain)
    );
}

#[test]
fn a_refund_below_the_order_is_partial() {
    let mut order = page()["data"]["orderList"][0].clone();
    let paid = order["orderBaseInfo"]["totalFee"].as_i64().unwrap();
    order["orderRefundList"] = json!([{"refundId": 1, "refundStatus": 22, "refundFee": paid / 4}]);
    let parsed = parse::parse_order(&order).unwrap();
    assert!(parsed.refunded);
    assert_eq!(parsed.partial_refund, Some(Money(paid / 4)));
    // A refund of nothing keeps the whole order's amount.
    order["orderRefundList"][0]["refundFee"] = json!(0);
    assert_eq!(
        parse::parse_order(&order).unwrap().partial_refund,
        Some(Money(0))
    );
    for whole in [json!(paid), json!(null)] {
        order["orderRefundList"][0]["refundFee"] = whole.clone();
        assert_eq!(
            parse::parse_order(&order).unwrap().partial_refund,
            None,
            "{whole}"
        );
    }
    // No amount an order carries is negative: such an order is unreadable.
    let mut negative = page()["data"]["orderList"][0].clone();
    negative["orderBaseInfo"]["totalFee"] = json!(-100);
    assert_eq!(
        parse::parse_order(&negative).map(|o| o.amount),
        Err("字段 totalFee 的金额为负数".to_owned())
    );
    // A refund list that is no list would read as no refund: the order is unreadable instead.
    order["orderRefundList"] = json!("22");
    assert_eq!(
        parse::parse_order(&order).map(|o| o.refunded),
        Err("字段 orderRefundList 不是列表".to_owned())
    );
}

/// The item's `num` and `price` are always sent: an item without a readable one makes the order
/// unreadable, with a reason naming the field, never one item at no price.
#[test]
fn an_item_without_a_readable_quantity_or_price_is_unreadable() {
    let order = page()["data"]["orderList"][0].clone();
    let with = |key: &str, value: Option<Value>| {
        let mut o = order.clone();
        let item = o["orderItemInfo"].as_object_mut().unwrap();
        match value {
            Some(v) => item.insert(key.to_owned(), v),
            None => item.remove(key),
        };
        parse_order(&o)
    };
    assert_eq!(with("num", Some(json!("4"))).unwrap().items[0].quantity, 4);
    for bad in [
        None,
        Some(json!(0)),
        Some(json!(-1)),
        Some(json!(2.5)),
        Some(json!([])),
    ] {
        let e = with("num", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品数量缺失或不是正整数：orderItemInfo.num"),
            "{bad:?}: {e}"
        );
    }
    for bad in [None, Some(json!(-1)), Some(json!(99.5)), Some(json!("贵"))] {
        let e = with("price", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品单价缺失或无法读取：orderItemInfo.price"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn statuses_map_exhaustively() {
    let base = page()["data"]["orderList"][0].clone();
    let with = |code: i64| {
        let mut o = base.clone();
        o["orderBaseInfo"]["status"] = json!(code);
        parse_order(&o).map(|r| r.status)
    };
    assert_eq!(with(10), Ok(NeutralStatus::Unpaid));
    assert_eq!(with(30), Ok(NeutralStatus::Paid));
    assert_eq!(with(40), Ok(NeutralStatus::Shipped));
    assert_eq!(with(50), Ok(NeutralStatus::Completed));
    assert_eq!(with(70), Ok(NeutralStatus::Completed));
    assert_eq!(with(80), Ok(NeutralStatus::Closed));
    assert!(with(0).is_err() && with(20).is_err());
}

#[test]
fn maps_errors_and_reads_tokens() {
    let err = |result: i64| {
        parse_api_error(&json!({"result": result, "msg": "m", "error_msg": "detail"})).unwrap()
    };
    // Kuaishou documents no error code (README §0 `?`, §5 only `result=1`): every one the
    // simulator sends — throttle, expired or invalid token, signature, permission, business
    // parameters, server — and any other is unknown (backoff, one refresh), with its own code
    // and text; none is permanent or a dead session on a guess.
    for result in [
        17, 24, 25, 10, 11, 12, 13, 14, 15, 16, 28, 2001, 500, 503, 802,
    ] {
        assert_eq!(
            err(result),
            PlatformError::Unknown {
                code: result.to_string(),
                message: "m detail".into()
            },
            "{result}"
        );
    }
    assert!(parse_api_error(&page()).is_none());
    assert!(matches!(
        parse_api_error(&json!({"data": {}})),
        Some(PlatformError::Malformed(_))
    ));

    let now = Utc::now();
    let tokens = parse_token_response(
        &serde_json::from_str(include_str!(
            "../../tests/fixtures/kuaishou/access_token.json"
        ))
        .unwrap(),
        now,
    )
    .unwrap();
    assert!(
        tokens
            .access_token
            .starts_with("ChFvYXV0aC5hY2Nlc3NUb2tlbh")
    );
    assert_eq!(
        tokens.expires_at,
        Some(now + chrono::Duration::seconds(172800))
    );
    assert_eq!(
        tokens.refresh_expires_at,
        Some(now + chrono::Duration::seconds(15552000))
    );
    assert_eq!(
        tokens.shop_id.as_deref(),
        Some("0c8f6e1d2b3a49586f7e6d5c4b3a2918")
    );
    let refused = json!({"result": 100200102, "error": "invalid_grant", "error_msg": "code已使用"});
    assert!(matches!(
        parse_token_response(&refused, now),
        Err(PlatformError::AuthRefused(m)) if m.contains("invalid_grant")
    ));
    // Only an OAuth 2.0 refusal ends the grant; any other failure of the token service is
    // unknown (retried, the shop not declared dead), with Kuaishou's code and text.
    let throttled = json!({"result": 17, "error_msg": "调用频率超限"});
    assert_eq!(
        parse_token_response(&throttled, now),
        Err(PlatformError::Unknown {
            code: "17".into(),
            message: "调用频率超限".into()
        })
    );
    let down = json!({"result": 503, "error_msg": "服务不可用"});
    assert!(matches!(
        parse_token_response(&down, now),
        Err(PlatformError::Unknown { ref code, .. }) if code == "503"
    ));
    let undocumented =
        json!({"result": 100200199, "error": "server_error", "error_msg": "内部错误"});
    assert_eq!(
        parse_token_response(&undocumented, now),
        Err(PlatformError::Unknown {
            code: "100200199".into(),
            message: "server_error 内部错误".into()
        })
    );
    // A wrong app secret or a request we built wrong is ours to mend, not the merchant's dead
    // grant: refusing the refresh so would have marked every shop expired.
    for error in [
        "invalid_request",
        "invalid_client",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    ] {
        let rejected = json!({"result": 100200100, "error": error, "error_msg": "x"});
        assert_eq!(
            parse_token_response(&rejected, now),
            Err(PlatformError::InvalidRequest(format!(
                "{error}: result 100200100 x"
            ))),
            "{error}"
        );
    }
}

#[test]
fn a_signed_call_matches_the_public_vector() {
    // Vector kuaishou-md5-order-cursor-list: the same app, signSecret, token, time and param.
    let mut app = AppCredentials::new("ks123456789012345678", "the-app-secret");
    app.extra
        .insert(SIGN_SECRET.into(), "signSecret0123456789abcdef".into());
    let now = Utc.timestamp_millis_opt(1716171330123).unwrap();
    let param = json!({"orderViewStatus": 1, "pageSize": 50, "sort": 1, "queryType": 2,
        "beginTime": 1716084930000i64, "endTime": 1716171330000i64, "cpsType": 0, "cursor": ""});
    let params = client()
        .signed_params(
            &app,
            "ChFvYXV0aC5hY2Nlc3NUb2tlbhJAxxxx",
            CURSOR_LIST,
            &param,
            now,
        )
        .unwrap();
    assert_eq!(params["sign"], "bdbb1c1ea56bd30990459c64714f8dcd");
    assert_eq!(params["signMethod"], "MD5");
    assert_eq!(params["version"], "1");
    assert_eq!(params["timestamp"], "1716171330123");
    assert_eq!(
        params["param"],
        r#"{"orderViewStatus":1,"pageSize":50,"sort":1,"queryType":2,"beginTime":1716084930000,"endTime":1716171330000,"cpsType":0,"cursor":""}"#
    );
    assert_eq!(params.len(), 8);
    // The app secret is not the signing secret: without signSecret nothing is sent.
    let bare = AppCredentials::new("ks1", "secret");
    assert!(matches!(
        client().signed_params(&bare, "t", CURSOR_LIST, &param, now),
        Err(PlatformError::InvalidRequest(_))
    ));
}

#[test]
fn urls_parameters_and_windows() {
    let c = client();
    let app = AppCredentials::new("ks1", "s");
    assert_eq!(
        c.authorize_url(&app, "https://x.example/cb", "st"),
        "https://open.kwaixiaodian.com/oauth/authorize?app_id=ks1&redirect_uri=https%3A%2F%2Fx.example%2Fcb&scope=merchant_order&response_type=code&state=st"
    );
    assert_eq!(
        c.refresh_url(),
        "https://openapi.kwaixiaodian.com/oauth2/refresh_token"
    );
    assert_eq!(
        c.method_url(CURSOR_LIST),
        "https://openapi.kwaixiaodian.com/open/order/cursor/list"
    );
    let start = Utc.with_ymd_and_hms(2024, 5, 19, 0, 0, 0).unwrap();
    let w = TimeWindow::new(start, start + chrono::Duration::seconds(86_399));
    assert_eq!(
        cursor_param(&w, Listing::Created, "abc").to_string(),
        r#"{"orderViewStatus":1,"pageSize":50,"sort":1,"queryType":1,"beginTime":1716076800000,"endTime":1716163199999,"cpsType":0,"cursor":"abc"}"#
    );
    assert_eq!(
        cursor_param(&w, Listing::Modified, "").to_string(),
        r#"{"orderViewStatus":1,"pageSize":50,"sort":1,"queryType":2,"beginTime":1716076800000,"endTime":1716163199999,"cpsType":0,"cursor":""}"#
    );
    let now = Utc.with_ymd_and_hms(2024, 5, 20, 12, 0, 0).unwrap();
    let range = TimeWindow::new(now - chrono::Duration::days(120), now);
    // queryType=1 serves 90 days; queryType=2 documents no limit.
    let windows = c.windows(range, now, Listing::Created);
    assert_eq!(windows[0].start, now - chrono::Duration::days(HISTORY_DAYS));
    let modified = c.windows(range, now, Listing::Modified);
    assert_eq!(modified[0].start, now - chrono::Duration::days(120));
    assert!(
        windows
            .iter()
            .all(|w| w.end - w.start < chrono::Duration::days(7))
    );
    for pair in windows.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
    }
}

/// A token answer carrying an error without `result` was `Malformed("token response without
/// result")` before its `error` was looked at: retried by the session with the same refresh
/// token, its words lost. The error is read whatever `result` says, or with none.
#[test]
fn a_token_error_without_result_keeps_its_words() {
    let now = Utc::now();
    assert_eq!(
        parse_token_response(
            &json!({"error": "invalid_grant", "error_msg": "refresh_token已失效"}),
            now
        ),
        Err(PlatformError::AuthRefused(
            "invalid_grant: refresh_token已失效".into()
        ))
    );
    assert_eq!(
        parse_token_response(&json!({"error": "invalid_client"}), now),
        Err(PlatformError::InvalidRequest("invalid_client".into()))
    );
    assert_eq!(
        parse_token_response(
            &json!({"error": "server_error", "error_msg": "内部错误"}),
            now
        ),
        Err(PlatformError::Unknown {
            code: "server_error".into(),
            message: "内部错误".into()
        })
    );
    assert_eq!(
        parse_token_response(&json!({"code": 500, "msg": "系统繁忙"}), now),
        Err(PlatformError::Unknown {
            code: "500".into(),
            message: "系统繁忙".into()
        })
    );
    // Only an answer carrying no error and no token is malformed.
    assert!(matches!(
        parse_token_response(&json!({"result": 1}), now),
        Err(PlatformError::Malformed(_))
    ));
}

/// README §5 names `result=1` as the success flag only in a third-party note: a token answer
/// carrying its `access_token` (and no error) but no `result` was `Malformed`, and the session
/// sent the same refresh token again though the platform may have rotated the pair with it.
/// The tokens are read.
#[test]
fn a_token_answer_without_result_is_read_by_its_token() {
    let now = Utc::now();
    let answer = json!({"access_token": "a", "expires_in": 7200, "refresh_token": "r",
        "refresh_token_expires_in": 15552000, "open_id": "o"});
    let tokens = parse_token_response(&answer, now).unwrap();
    assert_eq!(tokens.access_token, "a");
    assert_eq!(tokens.refresh_token.as_deref(), Some("r"));
    assert_eq!(
        tokens.expires_at,
        Some(now + chrono::Duration::seconds(7200))
    );
    assert_eq!(tokens.shop_id.as_deref(), Some("o"));
    // A token beside an error, or beside a `result` other than 1, is still the error.
    assert!(matches!(
        parse_token_response(&json!({"access_token": "a", "error": "invalid_grant"}), now),
        Err(PlatformError::AuthRefused(_))
    ));
    assert!(matches!(
        parse_token_response(&json!({"access_token": "a", "result": 17}), now),
        Err(PlatformError::Unknown { ref code, .. }) if code == "17"
    ));
}

/// An API answer without `result` that says something (`{"code":401,"msg":"token expired"}`)
/// was `Malformed`: retried, never refreshed, its code lost in the text. It is unknown with the
/// platform's code and words, so the session's refresh-once path runs.
#[test]
fn an_api_error_without_result_is_unknown_with_its_words() {
    assert_eq!(
        parse_api_error(&json!({"code": 401, "msg": "token expired"})),
        Some(PlatformError::Unknown {
            code: "401".into(),
            message: "token expired".into()
        })
    );
    assert_eq!(
        parse_api_error(&json!({"error_code": "24", "error_msg": "access_token过期"})),
        Some(PlatformError::Unknown {
            code: "24".into(),
            message: "access_token过期".into()
        })
    );
    assert_eq!(
        parse_api_error(&json!({"error": "invalid_token", "error_msg": "令牌无效"})),
        Some(PlatformError::Unknown {
            code: "invalid_token".into(),
            message: "令牌无效".into()
        })
    );
    assert_eq!(
        parse_api_error(&json!({"msg": "系统繁忙"})),
        Some(PlatformError::Unknown {
            code: String::new(),
            message: "系统繁忙".into()
        })
    );
    // Saying nothing, it is still an answer we cannot read.
    assert!(matches!(
        parse_api_error(&json!({"data": {}})),
        Some(PlatformError::Malformed(_))
    ));
}

/// The README lists the refresh's parameters (§5) but not where they go, and documents the
/// token exchange beside it as a GET with a query: sent in a form body only, a gateway reading
/// the query found none. They go in the query, and (the request being a POST) in the form too.
#[tokio::test]
async fn a_refresh_sends_its_parameters_once_in_the_form() {
    let (base, seen) = crate::registry::tests::recording().await;
    let client = KuaishouClient::new(
        Transport::new(Endpoint {
            api_url: base.clone(),
            authorize_url: format!("{base}/oauth/authorize"),
            token_url: format!("{base}/oauth2/access_token"),
            qps: 10,
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    );
    // The recording server answers `{}`: only the request matters here.
    let _ = client
        .refresh(&AppCredentials::new("ks1", "app-secret"), "r-1")
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (line, body) = seen[0].split_once('\n').unwrap();
    assert!(line.starts_with("POST "), "{line}");
    let target = line.split(' ').nth(1).unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    assert_eq!(path, "/oauth2/refresh_token");
    let read = |text: &str| -> std::collections::BTreeMap<String, String> {
        url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect()
    };
    let expected: std::collections::BTreeMap<String, String> = [
        ("grant_type", "refresh_token"),
        ("app_id", "ks1"),
        ("app_secret", "app-secret"),
        ("refresh_token", "r-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert!(query.is_empty(), "nothing in the URL: {query}");
    assert_eq!(read(body), expected, "form");
}

/// `orderList` absent on a page whose cursor walks on was read as an empty page: the answer
/// cannot be trusted. On the last page (`"nomore"`) an absent list is an empty one.
#[test]
fn a_page_whose_cursor_walks_on_must_carry_its_list() {
    let answer = |data: Value| json!({"result": 1, "msg": "success", "data": data});
    for list in [None, Some(Value::Null)] {
        let mut data = json!({"pageSize": 50, "cursor": "c2"});
        if let Some(list) = list {
            data["orderList"] = list;
        }
        assert!(matches!(
            parse_cursor_page(&answer(data)),
            Err(PlatformError::Malformed(ref m)) if m.contains("orderList")
        ));
    }
    let (orders, cursor) = parse_cursor_page(&answer(json!({"cursor": NO_MORE}))).unwrap();
    assert!(orders.is_empty() && cursor.as_deref() == Some(NO_MORE));
    // Sent as `[]`, the cursor still moves the walk on.
    let (orders, cursor) =
        parse_cursor_page(&answer(json!({"cursor": "c2", "orderList": []}))).unwrap();
    assert!(orders.is_empty() && cursor.as_deref() == Some("c2"));
    assert!(matches!(
        parse_cursor_page(&answer(json!({"cursor": NO_MORE, "orderList": {}}))),
        Err(PlatformError::Malformed(ref m)) if m.contains("不是列表")
    ));
}
