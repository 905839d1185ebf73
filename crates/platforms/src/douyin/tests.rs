use std::time::Duration;

use chrono::{TimeZone, Utc};
use leadgen_domain::{ContactKind, Money, NeutralStatus};
use serde_json::{Value, json};

use super::*;
use crate::registry::Endpoint;

fn client() -> DouyinClient {
    DouyinClient::new(
        Transport::new(Endpoint {
            api_url: "https://openapi-fxg.jinritemai.com/".into(),
            authorize_url: "https://fuwu.jinritemai.com/authorize".into(),
            token_url: "https://openapi-fxg.jinritemai.com/token/create".into(),
            qps: 10,
            timeout: Duration::from_secs(5),
        })
        .unwrap(),
    )
}

fn fixture(name: &str) -> Value {
    let text = match name {
        "search" => include_str!("../../tests/fixtures/douyin/order_search_list.json"),
        _ => include_str!("../../tests/fixtures/douyin/token_create.json"),
    };
    serde_json::from_str(text).unwrap()
}

#[test]
fn parses_a_recorded_search_list_page() {
    let json = fixture("search");
    let (orders, total) = parse_search_page(&json, PageSpan::numbered(0, 0, PAGE_SIZE)).unwrap();
    assert_eq!((orders.len(), total), (4, 4));
    assert_eq!(
        orders[0].raw, json["data"]["shop_order_list"][0],
        "raw kept untouched"
    );

    let first = orders[0].parsed.as_ref().unwrap();
    assert_eq!(first.order_id, "6921234567890123456");
    assert_eq!(first.status, NeutralStatus::Paid);
    assert_eq!(first.platform_status, "2");
    assert_eq!(first.created_at.timestamp(), 1716170292);
    assert_eq!(first.paid_at.unwrap().timestamp(), 1716170320);
    assert_eq!(first.amount, Money(19900));
    assert!(!first.refunded);
    let phone = first.receiver.phone.as_ref().unwrap();
    assert_eq!(phone.kind, ContactKind::PlatformEncrypted);
    assert!(phone.value.starts_with("$Kg1E"));
    assert_eq!(phone.masked.as_deref(), Some("1*********8"));
    assert_eq!(phone.display_phone(), "1*********8");
    let name = first.receiver.name.as_ref().unwrap();
    assert_eq!(name.kind, ContactKind::PlatformEncrypted);
    assert_eq!(name.display_name(), "张*");
    let address = first.receiver.address.as_ref().unwrap();
    assert_eq!(address.kind, ContactKind::PlatformEncrypted);
    assert_eq!(address.masked.as_deref(), Some("***"));
    assert_eq!(first.receiver.region, "浙江省 杭州市 西湖区 三墩镇");
    assert_eq!(
        first.buyer.open_id.as_deref(),
        Some("1@#cnNiTGVOb2xjZ0RqVnFwNGtwZnNXbmc9PQ==")
    );
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].title, "夏季连衣裙 A款");
    assert_eq!(first.items[0].price, Money(21900));
    assert_eq!(
        first.items[0].sku_id.as_deref(),
        Some("1760000000000000001")
    );

    let refunded = orders[1].parsed.as_ref().unwrap();
    assert_eq!(refunded.status, NeutralStatus::Closed);
    assert!(refunded.refunded);
    assert_eq!(refunded.items[0].quantity, 2);

    // A privacy number in `post_tel`; the same buyer as the first order; a withdrawn refund.
    let virtual_tel = orders[2].parsed.as_ref().unwrap();
    assert_eq!(virtual_tel.status, NeutralStatus::Shipped);
    let phone = virtual_tel.receiver.phone.as_ref().unwrap();
    assert_eq!(phone.kind, ContactKind::Virtual);
    assert_eq!(phone.value, "18400913965-7576");
    assert_eq!(virtual_tel.buyer.open_id, first.buyer.open_id);
    assert!(
        !virtual_tel.refunded,
        "after_sale_status 28 is a failed after-sale"
    );
    assert_eq!(virtual_tel.items[0].sku_id, None);

    // An unknown status: kept with its reason, never dropped.
    assert_eq!(orders[3].order_id.as_deref(), Some("6921234567890100001"));
    assert!(
        orders[3]
            .parsed
            .as_ref()
            .unwrap_err()
            .contains("order_status")
    );
}

/// A plain field in no shape Douyin is known to send (no ciphertext beside it) is opaque,
/// never the buyer's phone, name or address in clear.
#[test]
fn an_unrecognised_plain_value_is_never_a_plain_contact() {
    let mut order = fixture("search")["data"]["shop_order_list"][0].clone();
    for key in ["encrypt_post_tel", "encrypt_post_receiver"] {
        order[key] = json!("");
    }
    order["post_addr"]["encrypt_detail"] = json!("");
    order["post_tel"] = json!("QUJDREVGRw==");
    order["post_receiver"] = json!("<encrypted>");
    order["post_addr"]["detail"] = json!("QUJDREVGRw");
    let parsed = parse::parse_order(&order).unwrap();
    let kinds = [
        parsed.receiver.phone.map(|f| f.kind),
        parsed.receiver.name.map(|f| f.kind),
        parsed.receiver.address.map(|f| f.kind),
    ];
    assert_eq!(kinds, [Some(ContactKind::PlatformEncrypted); 3]);
    order["post_tel"] = json!("13800000001");
    order["post_receiver"] = json!("张三");
    let parsed = parse::parse_order(&order).unwrap();
    assert_eq!(
        (
            parsed.receiver.phone.map(|f| f.kind),
            parsed.receiver.name.map(|f| f.kind)
        ),
        (Some(ContactKind::Plain), Some(ContactKind::Plain))
    );
}

#[test]
fn a_refunded_sku_is_a_partial_refund_of_what_it_paid() {
    let mut order = fixture("search")["data"]["shop_order_list"][0].clone();
    let kept = order["sku_order_list"][0].clone();
    let mut refunded = kept.clone();
    refunded["pay_amount"] = 5_900.into();
    refunded["after_sale_info"] = json!({"after_sale_status": 12, "refund_status": 3});
    order["sku_order_list"] = json!([kept, refunded.clone()]);
    let parsed = parse::parse_order(&order).unwrap();
    assert!(parsed.refunded);
    assert_eq!(parsed.partial_refund, Some(Money(5_900)));
    order["sku_order_list"] = json!([refunded.clone(), refunded]);
    let whole = parse::parse_order(&order).unwrap();
    assert!(whole.refunded);
    assert_eq!(
        whole.partial_refund, None,
        "every sku refunded: the whole order"
    );
    // An exchange (after_sale_type 3) gives no money back: the buyer keeps what they paid.
    let mut exchanged = kept.clone();
    exchanged["after_sale_info"] =
        json!({"after_sale_status": 12, "after_sale_type": 3, "refund_status": 0});
    order["sku_order_list"] = json!([kept.clone(), exchanged.clone()]);
    let parsed = parse::parse_order(&order).unwrap();
    assert!(!parsed.refunded);
    assert_eq!(parsed.partial_refund, None);
    // ... unless the platform says the money went back all the same.
    exchanged["after_sale_info"]["refund_status"] = json!(3);
    order["sku_order_list"] = json!([kept, exchanged]);
    assert!(parse::parse_order(&order).unwrap().refunded);
    // No amount an order carries is negative: such an order is unreadable.
    let mut negative = fixture("search")["data"]["shop_order_list"][0].clone();
    negative["pay_amount"] = json!(-100);
    assert_eq!(
        parse::parse_order(&negative).map(|o| o.amount),
        Err("字段 pay_amount 的金额为负数".to_owned())
    );
    // A sku list that is no list would read as no refund: the order is unreadable instead.
    order["sku_order_list"] = json!({"0": refunded});
    assert_eq!(
        parse::parse_order(&order).map(|o| o.refunded),
        Err("字段 sku_order_list 不是列表".to_owned())
    );
}

/// `item_num` and `origin_amount` are always sent (README §4.3): a sku without a readable one
/// makes the order unreadable, with a reason naming the field, never one item at no price.
#[test]
fn a_sku_without_a_readable_quantity_or_price_is_unreadable() {
    let order = fixture("search")["data"]["shop_order_list"][0].clone();
    let with = |key: &str, value: Option<Value>| {
        let mut o = order.clone();
        let sku = o["sku_order_list"][0].as_object_mut().unwrap();
        match value {
            Some(v) => sku.insert(key.to_owned(), v),
            None => sku.remove(key),
        };
        parse::parse_order(&o)
    };
    assert_eq!(
        with("item_num", Some("3".into())).unwrap().items[0].quantity,
        3
    );
    assert_eq!(
        with("origin_amount", Some(0.into())).unwrap().items[0].price,
        Money(0)
    );
    for bad in [
        None,
        Some(json!(0)),
        Some(json!(-2)),
        Some(json!(1.5)),
        Some(json!("一")),
    ] {
        let e = with("item_num", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品数量缺失或不是正整数：sku_order_list.item_num"),
            "{bad:?}: {e}"
        );
    }
    for bad in [
        None,
        Some(json!(-100)),
        Some(json!(219.5)),
        Some(json!("x")),
    ] {
        let e = with("origin_amount", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品单价缺失或无法读取：sku_order_list.origin_amount"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn every_status_maps_and_unknown_ones_fail() {
    let base = fixture("search")["data"]["shop_order_list"][0].clone();
    let with = |code: i64| {
        let mut o = base.clone();
        o["order_status"] = json!(code);
        parse_order(&o).map(|r| r.status)
    };
    assert_eq!(with(1), Ok(NeutralStatus::Unpaid));
    assert_eq!(with(105), Ok(NeutralStatus::Paid));
    assert_eq!(with(2), Ok(NeutralStatus::Paid));
    assert_eq!(with(101), Ok(NeutralStatus::Shipped));
    assert_eq!(with(3), Ok(NeutralStatus::Shipped));
    assert_eq!(with(4), Ok(NeutralStatus::Closed));
    assert_eq!(with(5), Ok(NeutralStatus::Completed));
    assert!(with(0).is_err() && with(6).is_err());
}

#[test]
fn maps_douyin_errors_to_typed_errors() {
    let err = |code: i64, sub_code: &str| {
        parse_error(&json!({"code": code, "msg": "m", "sub_code": sub_code, "sub_msg": "s", "log_id": "l", "data": {}}))
            .unwrap()
    };
    assert_eq!(
        err(60000, ""),
        PlatformError::Throttled {
            retry_after: None,
            detail: "60000 m s".into()
        }
    );
    for sub in [
        "isv.access-token-expired",
        "isv.access-token-no-existed",
        "isv.access-token-invalid",
    ] {
        assert_eq!(
            err(40003, sub),
            PlatformError::SessionExpired {
                detail: format!("40003 {sub} m s")
            },
            "{sub}"
        );
    }
    assert_eq!(
        err(30001, "dop.authorization-closed"),
        PlatformError::SessionExpired {
            detail: "30001 dop.authorization-closed m s".into()
        }
    );
    let bad_sign = err(40003, "isv.signature-invalid");
    assert!(
        matches!(&bad_sign, PlatformError::InvalidRequest(m) if m.contains("40003") && m.contains("isv.signature-invalid")),
        "{bad_sign:?}"
    );
    assert!(matches!(
        err(40003, "isv.timestamp-invalid"),
        PlatformError::InvalidRequest(_)
    ));
    assert!(matches!(
        err(40001, "isv.signature-missing"),
        PlatformError::InvalidRequest(_)
    ));
    // 40001/40003 with a sub_code README §4.4 does not list, or none, is not refused for good.
    for (code, sub) in [
        (40003, "isv.parameter-invalid"),
        (40003, ""),
        (40001, "isv.something-new"),
    ] {
        assert!(
            matches!(err(code, sub), PlatformError::Unknown { .. }),
            "{code} {sub}"
        );
    }
    for code in [20000, 20001] {
        assert!(matches!(err(code, ""), PlatformError::Unavailable(_)));
    }
    assert!(matches!(err(90000, ""), PlatformError::Unknown { .. }));
    assert!(matches!(
        err(50001, "dop.token-generate-failed:code-expired"),
        PlatformError::AuthRefused(_)
    ));
    assert!(matches!(err(30002, ""), PlatformError::InvalidRequest(_)));
    // An API the app was not granted is permanent (it was retried and refreshed as unknown).
    assert!(matches!(
        err(30001, "isv.app-permissions-insufficient"),
        PlatformError::InvalidRequest(ref m) if m.contains("isv.app-permissions-insufficient")
    ));
    assert!(matches!(
        err(77777, "isp.something-new"),
        PlatformError::Unknown { ref code, .. } if code == "77777/isp.something-new"
    ));
    assert!(parse_error(&fixture("search")).is_none());
    assert!(parse_error(&json!({"err_no": 0, "data": {}})).is_none());
    assert!(matches!(
        parse_error(&json!({"data": {}})),
        Some(PlatformError::Malformed(_))
    ));
}

/// The older envelope (README §4.4, doudian==0.6): only `err_no` 0 is documented, so any other
/// is unknown — retried and refreshed once, not a permanent refusal — with its text kept.
#[test]
fn an_old_envelope_error_is_unknown_with_its_text() {
    for (err_no, message) in [(1, "系统繁忙"), (30001, "授权已失效"), (40004, "参数错误")]
    {
        let answer = json!({"err_no": err_no, "message": message, "data": null});
        let error = parse_error(&answer).expect("an error");
        assert_eq!(
            error,
            PlatformError::Unknown {
                code: format!("err_no {err_no}"),
                message: message.into()
            }
        );
        assert!(error.is_transient(), "{error:?}");
        assert!(error.to_string().contains(message), "{error}");
    }
    // Through the token reader too: an undocumented old-envelope refusal does not end the grant.
    let old = json!({"err_no": 12, "message": "refresh_token已过期"});
    assert!(matches!(
        parse_token_response(&old, Utc::now()),
        Err(PlatformError::Unknown { ref code, ref message }) if code == "err_no 12" && message == "refresh_token已过期"
    ));
}

#[test]
fn reads_token_answers() {
    let now = Utc::now();
    let tokens = parse_token_response(&fixture("token"), now).unwrap();
    assert_eq!(tokens.access_token, "4c5a7b9e-2f1d-4e3a-9b8c-7d6e5f4a3b2c");
    assert_eq!(tokens.expires_at, Some(now + chrono::Duration::days(7)));
    assert_eq!(
        tokens.refresh_expires_at,
        Some(now + chrono::Duration::days(14))
    );
    assert_eq!(tokens.shop_id.as_deref(), Some("12345678"));
    assert_eq!(tokens.shop_name.as_deref(), Some("某某旗舰店"));
    let refused = json!({"code": 50001, "msg": "平台处理失败", "sub_code": "dop.token-generate-failed:code-invalid", "sub_msg": "", "data": {}});
    assert!(matches!(
        parse_token_response(&refused, now),
        Err(PlatformError::AuthRefused(_))
    ));
}

/// 50001 token generation (README §4.4): a dead code or refresh token is the merchant's grant
/// refused; a wrong app secret is our configuration (re-authorizing every shop would not mend
/// it, and the session must not mark them expired); an undocumented reason is unknown.
#[test]
fn a_token_generation_failure_blames_the_grant_or_the_app_by_its_reason() {
    let err = |reason: &str| {
        let answer = json!({"code": 50001, "msg": "平台处理失败",
            "sub_code": format!("dop.token-generate-failed:{reason}"), "sub_msg": "生成token失败", "data": {}});
        parse_token_response(&answer, Utc::now()).unwrap_err()
    };
    for reason in [
        "code-expired",
        "code-invalid",
        "token-expired",
        "token-invalid",
        "no-authorization",
    ] {
        assert!(
            matches!(err(reason), PlatformError::AuthRefused(ref m) if m.contains(reason)),
            "{reason}"
        );
    }
    for reason in [
        "app-secret-invalid",
        "app-id-invalid",
        "grant-type-invalid",
        "app-forbidden",
    ] {
        assert_eq!(
            err(reason),
            PlatformError::InvalidRequest(format!(
                "code 50001 平台处理失败 dop.token-generate-failed:{reason} 生成token失败"
            )),
            "{reason}"
        );
    }
    assert!(matches!(
        err("something-new"),
        PlatformError::Unknown { ref code, .. } if code == "50001/dop.token-generate-failed:something-new"
    ));
}

#[test]
fn a_signed_search_call_matches_the_public_vector() {
    // Vector doudian-hmac-order-searchlist: same app, secret, business parameters and time.
    let app = AppCredentials::new(
        "7123456789012345678",
        "a1b2c3d4-e5f6-7890-abcd-ef0123456789",
    );
    let now = Utc.with_ymd_and_hms(2024, 5, 20, 2, 15, 30).unwrap();
    let params = json!({"size": 100, "page": 0, "order_asc": false, "order_by": "create_time",
        "create_time_start": 1716048000, "create_time_end": 1716134400});
    let c = client();
    let call = c.signed_call(
        &app,
        c.method_url(SEARCH_LIST),
        SEARCH_LIST,
        Some("at-1"),
        &params,
        now,
    );
    assert_eq!(
        call.url,
        "https://openapi-fxg.jinritemai.com/order/searchList"
    );
    assert_eq!(
        call.body,
        r#"{"create_time_end":1716134400,"create_time_start":1716048000,"order_asc":false,"order_by":"create_time","page":0,"size":100}"#
    );
    let q: Vec<(&str, &str)> = call.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        q,
        [
            ("app_key", "7123456789012345678"),
            ("method", "order.searchList"),
            ("access_token", "at-1"),
            ("timestamp", "2024-05-20 10:15:30"),
            ("v", "2"),
            ("sign_method", "hmac-sha256"),
            (
                "sign",
                "172ce598b4da759bdd0d9c58b5524f96d6a61dde0c29be6afb7e26021879491d"
            ),
        ]
    );
}

#[test]
fn param_json_sorts_nested_keys_and_keeps_utf8_raw() {
    let v = json!({"size": 20, "product": "连衣裙", "page": 0,
        "combine_status": [{"order_status": "2", "a": "<&>"}]});
    assert_eq!(
        param_json(&v),
        r#"{"combine_status":[{"a":"<&>","order_status":"2"}],"page":0,"product":"连衣裙","size":20}"#
    );
    assert_eq!(param_json(&Value::Null), "{}");
    assert_eq!(param_json(&json!({})), "{}");
}

#[test]
fn consent_url_and_search_parameters() {
    let c = client();
    let mut app = AppCredentials::new("7123", "s");
    app.extra.insert("serviceId".into(), "svc-9".into());
    let url = c.authorize_url(&app, "https://x.example/cb?a=1", "st 1");
    assert_eq!(
        url,
        "https://fuwu.jinritemai.com/authorize?service_id=svc-9&state=st%201&redirect_uri=https%3A%2F%2Fx.example%2Fcb%3Fa%3D1"
    );
    assert_eq!(
        c.method_url(TOKEN_REFRESH),
        "https://openapi-fxg.jinritemai.com/token/refresh"
    );
    let w = TimeWindow::new(
        Utc.with_ymd_and_hms(2024, 5, 19, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2024, 5, 19, 23, 59, 59).unwrap(),
    );
    assert_eq!(
        param_json(&search_params(&w, Listing::Created, 3)),
        r#"{"create_time_end":1716163199,"create_time_start":1716076800,"order_asc":true,"order_by":"create_time","page":3,"size":100}"#
    );
    assert_eq!(
        param_json(&search_params(&w, Listing::Modified, 0)),
        r#"{"order_asc":true,"order_by":"update_time","page":0,"size":100,"update_time_end":1716163199,"update_time_start":1716076800}"#
    );
}

#[test]
fn windows_are_days_over_the_whole_range() {
    // No history limit is documented: a range of 200 days is fetched whole, never clipped.
    let now = Utc.with_ymd_and_hms(2024, 5, 20, 12, 0, 0).unwrap();
    let c = client();
    let w = c.windows(
        TimeWindow::new(now - chrono::Duration::days(200), now),
        now,
        Listing::Created,
    );
    assert_eq!(w.len(), 201);
    assert_eq!(w[0].start, now - chrono::Duration::days(200));
    assert!(
        w.iter()
            .all(|w| w.end - w.start < chrono::Duration::days(1))
    );
    assert_eq!(w.last().unwrap().end, now);
}

/// The consent page takes the service-market `service_id` (README §4.1), which the app key is
/// not: `serviceId` is required when an authorization is added, and never guessed from the key.
#[test]
fn the_consent_page_names_the_service_never_the_app_key() {
    let c = client();
    assert_eq!(c.required_auth_info_keys(), &["serviceId"]);
    assert!(c.auth_info_keys().contains(&"shopId"));
    // One stored before it was required: no service is named rather than the app key.
    let app = AppCredentials::new("7123", "s");
    assert_eq!(
        c.authorize_url(&app, "https://x.example/cb", "st"),
        "https://fuwu.jinritemai.com/authorize?state=st&redirect_uri=https%3A%2F%2Fx.example%2Fcb"
    );
}

/// `shop_order_list` absent, of another shape, or empty while `data.total` says more pages
/// follow was an empty page: the walk ended there and the orders were lost. The last page of a
/// total that counts more than it lists is empty (the walk's count catches it).
#[test]
fn a_page_the_total_says_others_follow_must_carry_orders() {
    let first = PageSpan::numbered(0, 0, PAGE_SIZE);
    let answer = |data: Value| json!({"code": 10000, "msg": "success", "data": data});
    for data in [
        json!({"page": 0, "size": 100, "total": 104}),
        json!({"page": 0, "size": 100, "total": "104", "shop_order_list": null}),
        json!({"page": 0, "size": 100, "total": 104, "shop_order_list": []}),
    ] {
        assert!(
            matches!(
                parse_search_page(&answer(data.clone()), first),
                Err(PlatformError::Malformed(ref m)) if m.contains("shop_order_list")
            ),
            "{data}"
        );
    }
    let odd = json!({"page": 0, "size": 100, "total": 0, "shop_order_list": {"a": 1}});
    assert!(matches!(
        parse_search_page(&answer(odd), first),
        Err(PlatformError::Malformed(ref m)) if m.contains("不是列表")
    ));
    // An empty window: empty, with or without the list.
    for data in [
        json!({"page": 0, "size": 100, "total": 0}),
        json!({"page": 0, "size": 100, "total": 0, "shop_order_list": []}),
    ] {
        let (orders, total) = parse_search_page(&answer(data), first).unwrap();
        assert!(orders.is_empty() && total == 0);
    }
    // A page past the end of a total that shrank mid-walk (backward walk), or the last page of a
    // total that counts more than it lists: empty.
    let third = PageSpan::numbered(2, 0, PAGE_SIZE);
    for total in [150, 250] {
        let past = json!({"page": 2, "size": 100, "total": total});
        let (orders, read) = parse_search_page(&answer(past), third).unwrap();
        assert_eq!((orders.len(), read), (0, total));
    }
    let only = json!({"page": 0, "size": 100, "total": 4, "shop_order_list": []});
    assert_eq!(parse_search_page(&answer(only), first).unwrap().1, 4);
}

/// A token answer with an OAuth 2.0 `error` (no `code`) was `Malformed("response without
/// code")`: its words are kept and it is classified as OAuth defines it.
#[test]
fn an_oauth_error_from_the_token_endpoint_keeps_its_words() {
    let now = Utc::now();
    assert_eq!(
        parse_token_response(
            &json!({"error": "invalid_grant", "error_description": "过期"}),
            now
        ),
        Err(PlatformError::AuthRefused("invalid_grant: 过期".into()))
    );
    assert_eq!(
        parse_token_response(&json!({"error": "temporarily_unavailable"}), now),
        Err(PlatformError::Unknown {
            code: "temporarily_unavailable".into(),
            message: String::new()
        })
    );
}

/// `is_virtual_tel` is read as a bool, "true"/"false" or 1/0; without it a `main-extension`
/// `decrypt_text` is still a privacy number: handed on as plain, its extension was lost.
#[test]
fn a_privacy_number_without_its_flag_is_never_plain() {
    let request = DecryptRequest {
        order_id: "6921234567890123456".into(),
        ciphertext: "$Kg1E$AbZ1$1$$".into(),
        purpose: RevealPurpose::Fulfilment,
    };
    let answer = |flag: Option<Value>, a: &str, b: &str| {
        let mut item = json!({"auth_id": "6921234567890123456", "cipher_text": "$Kg1E$AbZ1$1$$",
            "decrypt_text": "18400913965-7576", "err_no": 0, "err_msg": "", "data_type": 3,
            "phone_no_a": a, "phone_no_b": b, "expire_time": 1_767_225_600});
        if let Some(flag) = flag {
            item["is_virtual_tel"] = flag;
        }
        json!({"code": 10000, "msg": "success", "data": {"decrypt_infos": [item]}})
    };
    for flag in [
        None,
        Some(json!(false)),
        Some(json!("false")),
        Some(json!(0)),
        Some(json!("true")),
        Some(json!(1)),
    ] {
        let c = decrypt::parse_decrypt_response(&answer(flag.clone(), "", ""), &request).unwrap();
        assert_eq!(
            (c.kind(), c.expose_number(), c.expose_extension()),
            (ContactKind::Virtual, "18400913965", Some("7576")),
            "{flag:?}"
        );
        assert_eq!(c.expires_at().map(|t| t.timestamp()), Some(1_767_225_600));
    }
    // Flagged as 1, the parts are read as with `true`.
    let c =
        decrypt::parse_decrypt_response(&answer(Some(json!(1)), "18400913965", "7576"), &request)
            .unwrap();
    assert_eq!(c.expose_extension(), Some("7576"));
}

/// Refreshed early, Douyin answers the same pair: its refresh token's expiry is not moved to 14
/// days from the answer. A new refresh token gets its 14 days.
#[test]
fn the_same_pair_answered_back_states_no_new_refresh_expiry() {
    let now = Utc::now();
    let answer = |refresh: &str| {
        parse_token_response(
            &json!({"code": 10000, "data": {"access_token": "a", "expires_in": 604800,
                    "refresh_token": refresh}}),
            now,
        )
        .unwrap()
    };
    let same = parse::same_pair_keeps_its_expiry(answer("r1"), "r1");
    assert_eq!(same.refresh_expires_at, None);
    let new = parse::same_pair_keeps_its_expiry(answer("r2"), "r1");
    assert_eq!(
        new.refresh_expires_at,
        Some(now + chrono::Duration::days(parse::REFRESH_TOKEN_DAYS))
    );
}
