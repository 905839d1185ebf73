use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone};
use leadgen_domain::{ContactKind, Money, NeutralStatus};
use serde_json::{Value, json};

use super::*;
use crate::registry::Endpoint;
use crate::sign::Params;

/// The first page of a walk.
const PAGE1: PageSpan = PageSpan {
    offset: 0,
    size: PAGE_SIZE as u64,
};

fn fixture(name: &str) -> Value {
    let text = match name {
        "order_ensearch" => include_str!("../../tests/fixtures/jd/order_ensearch.json"),
        "token" => include_str!("../../tests/fixtures/jd/token.json"),
        "token_error" => include_str!("../../tests/fixtures/jd/token_error.json"),
        "error_invalid_token" => include_str!("../../tests/fixtures/jd/error_invalid_token.json"),
        "api_result_failure" => include_str!("../../tests/fixtures/jd/api_result_failure.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

fn client() -> JdClient {
    JdClient::new(
        Transport::new(Endpoint {
            api_url: "https://api.jd.com/routerjson".into(),
            authorize_url: "https://open-oauth.jd.com/oauth2/to_login".into(),
            token_url: "https://open-oauth.jd.com/oauth2/access_token".into(),
            qps: 10,
            timeout: StdDuration::from_secs(5),
        })
        .unwrap(),
    )
}

#[test]
fn parses_a_recorded_search_page() {
    let (orders, total) = parse_orders_page(&fixture("order_ensearch"), PAGE1).unwrap();
    assert_eq!((orders.len(), total), (3, 203));
    let first = orders[0].parsed.as_ref().unwrap();
    assert_eq!(first.order_id, "281234567890");
    assert_eq!(first.status, NeutralStatus::Paid);
    assert_eq!(first.platform_status, "WAIT_SELLER_STOCK_OUT");
    assert_eq!(first.created_at.to_rfc3339(), "2024-05-20T01:58:12+00:00");
    assert_eq!(
        first.paid_at.unwrap().to_rfc3339(),
        "2024-05-20T01:58:40+00:00"
    );
    assert_eq!(first.amount, Money(19900));
    assert!(!first.refunded);
    let phone = first.receiver.phone.as_ref().unwrap();
    assert_eq!(phone.kind, ContactKind::PlatformEncrypted);
    assert_eq!(
        phone.value, "AgE+1STBoIEdpJWS+EEIXMAGPrYrMAElKpRUJ5XRypgk",
        "kept as sent"
    );
    assert_eq!(
        first.receiver.name.as_ref().unwrap().kind,
        ContactKind::PlatformEncrypted
    );
    assert_eq!(first.receiver.region, "北京 朝阳区 三环以内");
    assert_eq!(
        first.buyer.open_id.as_deref(),
        Some("o6Jd2vRkqL0aT7xWbN3eYpZs")
    );
    assert_eq!(first.buyer.nick.as_deref(), Some("jd_******"));
    assert_eq!(first.items[0].sku_id.as_deref(), Some("100012345678"));
    assert_eq!(first.items[0].price, Money(21900));
    assert_eq!(
        orders[0].raw,
        fixture("order_ensearch")[SEARCH_RESPONSE]["searchorderinfo_result"]["orderInfoList"][0]
    );
    let cancelled = orders[1].parsed.as_ref().unwrap();
    assert_eq!(cancelled.status, NeutralStatus::Closed);
    assert!(cancelled.refunded, "paid, then cancelled");
    assert_eq!(cancelled.items.len(), 2);
    assert_eq!(cancelled.items[0].quantity, 2);
    assert_eq!(cancelled.items[1].sku_id.as_deref(), Some("100098765433"));
    assert_eq!(cancelled.receiver.region, "广东 深圳市 南山区 粤海街道");
    // An undocumented state is kept with its error, not dropped.
    assert_eq!(orders[2].order_id.as_deref(), Some("281234568000"));
    assert!(
        orders[2]
            .parsed
            .as_ref()
            .unwrap_err()
            .contains("WAIT_BUYER_PAY")
    );
}

#[test]
fn every_documented_state_maps_and_others_do_not() {
    for state in ORDER_STATES.split(',') {
        assert!(status(state).is_some(), "{state}");
    }
    assert_eq!(status("FINISHED_L"), Some(NeutralStatus::Completed));
    assert_eq!(
        status("WAIT_GOODS_RECEIVE_CONFIRM"),
        Some(NeutralStatus::Shipped)
    );
    assert_eq!(status("TRADE_FINISHED"), None);
}

#[test]
fn maps_jos_errors_to_typed_errors() {
    let err = |code: &str, zh: &str| {
        parse_error_response(
            &json!({"error_response": {"code": code, "zh_desc": zh, "en_desc": "e"}}),
        )
        .unwrap()
    };
    assert!(matches!(
        parse_error_response(&fixture("error_invalid_token")),
        Some(PlatformError::SessionExpired { ref detail }) if detail.starts_with("19 ")
    ));
    assert_eq!(
        err("2", "调用次数超限"),
        PlatformError::Throttled {
            retry_after: None,
            detail: "2 调用次数超限 e".into()
        }
    );
    for code in ["4", "5", "7", "8", "11", "12", "14", "15"] {
        assert!(
            matches!(err(code, "x"), PlatformError::InvalidRequest(ref m) if m.contains(code)),
            "{code}"
        );
    }
    assert!(matches!(
        err("1", "服务不可用"),
        PlatformError::Unavailable(_)
    ));
    // Numeric codes are read too.
    assert_eq!(
        parse_error_response(&json!({"error_response": {"code": 19}})),
        Some(PlatformError::SessionExpired {
            detail: "19".into()
        })
    );
    assert!(parse_error_response(&fixture("order_ensearch")).is_none());
    let failed = parse_orders_page(&fixture("api_result_failure"), PAGE1).unwrap_err();
    // `numberCode`s are not documented: unknown, with JOS's own code and text.
    assert!(
        matches!(failed, PlatformError::Unknown { ref code, ref message }
            if code.contains("10100012") && message.contains("查询时间范围不能超过一个月")),
        "{failed:?}"
    );
    // A code the README does not list is unknown, even where its words sound permanent.
    assert_eq!(
        err("21", "key=x 信息无效"),
        PlatformError::Unknown {
            code: "21".into(),
            message: "key=x 信息无效 e".into()
        }
    );
    assert_eq!(
        err("66", "新的错误"),
        PlatformError::Unknown {
            code: "66".into(),
            message: "新的错误 e".into()
        }
    );
    let busy = json!({SEARCH_RESPONSE: {"code": "0", "searchorderinfo_result": {"apiResult":
        {"success": false, "chineseErrCode": "系统繁忙", "englishErrCode": "system busy", "numberCode": 1}}}});
    assert!(matches!(
        parse_orders_page(&busy, PAGE1),
        Err(PlatformError::Unavailable(_))
    ));
    assert!(matches!(
        parse_orders_page(&json!({"other": {}}), PAGE1),
        Err(PlatformError::Malformed(_))
    ));
}

#[test]
fn reads_token_answers() {
    let now = Utc::now();
    let t = parse_token_response(&fixture("token"), now).unwrap();
    assert_eq!(t.access_token, "8f1e2d3c4b5a69788796a5b4c3d2e1f0");
    assert_eq!(
        t.refresh_token.as_deref(),
        Some("0f1e2d3c4b5a69788796a5b4c3d2e1f8")
    );
    assert_eq!(t.shop_id.as_deref(), Some("2861543790"));
    let issued = Utc.timestamp_millis_opt(1_716_170_400_000).unwrap();
    assert_eq!(t.expires_at, Some(issued + Duration::seconds(31_535_999)));
    // JOS documents no OAuth error codes: a refusal's code is unknown (retried, the shop not
    // declared dead), with JOS's own code and text kept.
    assert_eq!(
        parse_token_response(&fixture("token_error"), now),
        Err(PlatformError::Unknown {
            code: "oauth 402".into(),
            message: "code无效或已过期".into()
        })
    );
    let refused_refresh = json!({"code": 403, "msg": "refresh_token无效", "requestId": "r"});
    assert!(matches!(
        parse_token_response(&refused_refresh, now),
        Err(PlatformError::Unknown { ref code, ref message })
            if code == "oauth 403" && message == "refresh_token无效"
    ));
    let busy = json!({"code": "503", "msg": "系统繁忙，请稍后再试", "requestId": "r"});
    assert!(matches!(
        parse_token_response(&busy, now),
        Err(PlatformError::Unavailable(ref m)) if m.contains("繁忙")
    ));
    assert!(matches!(
        parse_token_response(&json!({}), now),
        Err(PlatformError::Malformed(_))
    ));
}

/// `expires_in` and `time` sent as digit strings are read like numbers (they were dropped: no
/// expiry, so the token was never refreshed ahead of it).
#[test]
fn token_expiries_sent_as_strings_are_read() {
    let now = Utc::now();
    let mut answer = fixture("token");
    answer["expires_in"] = json!("86400");
    answer["time"] = json!("1716170400000");
    let issued = Utc.timestamp_millis_opt(1_716_170_400_000).unwrap();
    assert_eq!(
        parse_token_response(&answer, now).unwrap().expires_at,
        Some(issued + Duration::seconds(86_400))
    );
}

/// `itemTotal` and `jdPrice` are always sent (README §2.3): a line without a readable one makes
/// the order unreadable, with a reason naming the field, never one item by default.
#[test]
fn an_item_line_without_a_readable_quantity_or_price_is_unreadable() {
    let order =
        fixture("order_ensearch")[SEARCH_RESPONSE]["searchorderinfo_result"]["orderInfoList"][0]
            .clone();
    let with = |key: &str, value: Option<Value>| {
        let mut o = order.clone();
        let line = o["itemInfoList"][0].as_object_mut().unwrap();
        match value {
            Some(v) => line.insert(key.to_owned(), v),
            None => line.remove(key),
        };
        parse_order(&o)
    };
    assert_eq!(
        with("itemTotal", Some(json!(3))).unwrap().items[0].quantity,
        3
    );
    for bad in [
        None,
        Some(json!("0")),
        Some(json!("-1")),
        Some(json!("1.5")),
        Some(json!("")),
    ] {
        let e = with("itemTotal", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品数量缺失或不是正整数：itemInfoList.itemTotal"),
            "{bad:?}: {e}"
        );
    }
    for bad in [None, Some(json!("")), Some(json!("-0.01"))] {
        let e = with("jdPrice", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品单价缺失或无法读取：itemInfoList.jdPrice"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn signs_one_full_request_as_sent() {
    let app = AppCredentials::new("APPKEY0001", "jd-secret");
    let now = Utc.with_ymd_and_hms(2024, 5, 20, 2, 15, 30).unwrap();
    let window = TimeWindow::new(now - Duration::days(1), now - Duration::seconds(1));
    let business = JdClient::search_params(&window, Listing::Created, 2);
    assert_eq!(
        JdClient::search_params(&window, Listing::Modified, 2)["dateType"],
        "0"
    );
    let params = client().signed_params(&app, "tok-1", SEARCH_METHOD, &business, now);
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "360buy_param_json",
            "access_token",
            "app_key",
            "method",
            "sign",
            "timestamp",
            "v"
        ]
    );
    assert_eq!(params["timestamp"], "2024-05-20 10:15:30");
    assert_eq!(params["v"], "2.0");
    let expected_json = format!(
        "{{\"dateType\":\"1\",\"end_date\":\"2024-05-20 10:15:29\",\"optional_fields\":\"{OPTIONAL_FIELDS}\",\
\"order_state\":\"{ORDER_STATES}\",\"page\":\"2\",\"page_size\":\"100\",\"sortType\":\"0\",\"start_date\":\"2024-05-19 10:15:30\"}}"
    );
    assert_eq!(params["360buy_param_json"], expected_json);
    let mut unsigned: Params = params.clone();
    unsigned.remove("sign");
    assert_eq!(
        params["sign"],
        sorted_concat_sign(SignMethod::Md5, "jd-secret", &unsigned)
    );
    assert_eq!(params["sign"].len(), 32);
    assert!(
        params["sign"]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
}

#[test]
fn consent_and_refresh_urls() {
    let url = client().authorize_url(
        &AppCredentials::new("k 1", "s"),
        "https://a.example/cb?x=1",
        "st",
    );
    assert_eq!(
        url,
        "https://open-oauth.jd.com/oauth2/to_login?app_key=k%201&response_type=code\
&redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1&state=st&scope=snsapi_base"
    );
    assert_eq!(
        refresh_url("http://127.0.0.1:9100/jd/oauth2/access_token"),
        "http://127.0.0.1:9100/jd/oauth2/refresh_token"
    );
}

#[test]
fn windows_are_one_day_over_the_whole_range() {
    let now = Utc.with_ymd_and_hms(2024, 6, 30, 0, 0, 0).unwrap();
    let range = TimeWindow::new(now - Duration::days(3), now);
    let w = client().windows(range, now, Listing::Created);
    assert_eq!(w.len(), 4);
    assert_eq!(
        w[0].end - w[0].start,
        Duration::days(1) - Duration::seconds(1)
    );
    // No history limit is documented: nothing is clipped.
    let long = TimeWindow::new(now - Duration::days(400), now);
    let w = client().windows(long, now, Listing::Modified);
    assert_eq!(w[0].start, now - Duration::days(400));
}

/// One `enSearch` answer under `key` with `orderTotal` `total` and, when given, `orderInfoList`.
fn search_answer(key: &str, total: Value, list: Option<Value>) -> Value {
    let mut result = json!({"apiResult": {"success": true}, "orderTotal": total});
    if let Some(list) = list {
        result["orderInfoList"] = list;
    }
    json!({ key: {"code": "0", "searchorderinfo_result": result} })
}

/// The first order of the recorded page.
fn recorded_order() -> Value {
    fixture("order_ensearch")[SEARCH_RESPONSE]["searchorderinfo_result"]["orderInfoList"][0].clone()
}

/// The answer may come under the README sample's `jingdong_pop_order_search_responce`, in
/// another letter case, or as the answer's one `…_responce` key; it was refused as
/// `Malformed("no jingdong_pop_order_enSearch_responce")`.
#[test]
fn the_search_answer_is_read_under_any_of_its_keys() {
    for key in [
        SEARCH_RESPONSE,
        "jingdong_pop_order_search_responce",
        "jingdong_pop_order_ensearch_responce",
        "JINGDONG_POP_ORDER_ENSEARCH_RESPONCE",
        "jingdong_pop_order_enSearch_response",
        "jingdong_pop_order_enSearchV2_responce",
    ] {
        let answer = search_answer(key, json!(1), Some(json!([recorded_order()])));
        let (orders, total) = parse_orders_page(&answer, PAGE1).unwrap();
        assert_eq!((orders.len(), total), (1, 1), "{key}");
    }
    // Two candidates, or only an error envelope: no telling which is the answer.
    let two = json!({"a_responce": {}, "b_response": {}});
    assert!(matches!(
        parse_orders_page(&two, PAGE1),
        Err(PlatformError::Malformed(_))
    ));
}

/// `orderInfoList` absent, of another shape, or empty while `orderTotal` says more pages follow
/// was an empty page: the walk ended there and the orders were lost. The last page of a total
/// that counts more than it lists is empty (the walk's count catches it).
#[test]
fn a_page_the_total_says_others_follow_must_carry_orders() {
    for list in [None, Some(Value::Null), Some(json!([]))] {
        let answer = search_answer(SEARCH_RESPONSE, json!(203), list.clone());
        assert!(
            matches!(
                parse_orders_page(&answer, PAGE1),
                Err(PlatformError::Malformed(ref m)) if m.contains("orderInfoList")
            ),
            "{list:?}"
        );
    }
    let odd = search_answer(SEARCH_RESPONSE, json!(0), Some(json!({"orderInfo": []})));
    assert!(matches!(
        parse_orders_page(&odd, PAGE1),
        Err(PlatformError::Malformed(ref m)) if m.contains("字段 orderInfoList 不是列表")
    ));
    // An empty window, a page past the end of a total that shrank mid-walk, or the last page of
    // a total that counts more than it lists: empty.
    let empty = search_answer(SEARCH_RESPONSE, json!(0), None);
    assert!(parse_orders_page(&empty, PAGE1).unwrap().0.is_empty());
    let third = PageSpan::numbered(3, 1, PAGE_SIZE);
    for total in [150, 250] {
        let past = search_answer(SEARCH_RESPONSE, json!(total), Some(json!([])));
        assert_eq!(parse_orders_page(&past, third).unwrap().1, total);
    }
    let followed = search_answer(SEARCH_RESPONSE, json!(301), Some(json!([])));
    assert!(matches!(
        parse_orders_page(&followed, third),
        Err(PlatformError::Malformed(_))
    ));
}

/// `orderTotal` as digits with spaces is a count (it was "orderTotal is missing or not a
/// count"); a negative or a word is not.
#[test]
fn order_total_is_read_as_digits_with_spaces() {
    let answer = search_answer(
        SEARCH_RESPONSE,
        json!(" 203 "),
        Some(json!([recorded_order()])),
    );
    assert_eq!(parse_orders_page(&answer, PAGE1).unwrap().1, 203);
    for bad in [json!(-1), json!("many"), json!(1.5), json!([])] {
        let answer = search_answer(SEARCH_RESPONSE, bad.clone(), Some(json!([])));
        assert!(
            matches!(
                parse_orders_page(&answer, PAGE1),
                Err(PlatformError::Malformed(ref m)) if m.contains("orderTotal")
            ),
            "{bad}"
        );
    }
}

/// A consignee value of no recognised form (`<encrypted>` as in the README's sample, Base64url,
/// a short blob, a `~…~` ciphertext) was `Plain`: stored as the buyer's contact, and the reveal
/// through `jingdong.jos.order.oaid.decrypt` refused as needless. Only a phone number is plain.
#[test]
fn an_unrecognised_consignee_value_is_never_plain() {
    let mut order = recorded_order();
    for (mobile, kind) in [
        ("<encrypted>", ContactKind::PlatformEncrypted),
        (
            "AgE-1STBoIEdpJWS_EEIXMAGPrYrMAElKpRUJ5XRypgk",
            ContactKind::PlatformEncrypted,
        ),
        ("AgE+1STB", ContactKind::PlatformEncrypted),
        (
            "~AgAAAAFYg4ABX2hUqQCr2kQXk2Pzh5e4eI6hwzs=~0~",
            ContactKind::PlatformEncrypted,
        ),
        (
            "AgE+1STBoIEdpJWS+EEIXMAGPrYrMAElKpRUJ5XRypgk",
            ContactKind::PlatformEncrypted,
        ),
        ("138****5678", ContactKind::Masked),
        ("18877771111-123", ContactKind::Virtual),
        ("13812345678", ContactKind::Plain),
        ("010-88886666", ContactKind::Plain),
    ] {
        order["consigneeInfo"]["mobile"] = mobile.into();
        let phone = parse_order(&order).unwrap().receiver.phone.unwrap();
        assert_eq!(
            (phone.kind, phone.value.as_str()),
            (kind, mobile),
            "{mobile}"
        );
    }
    order["consigneeInfo"]["fullname"] = "<encrypted>".into();
    order["consigneeInfo"]["fullAddress"] = "<encrypted>".into();
    let receiver = parse_order(&order).unwrap().receiver;
    assert_eq!(
        (
            receiver.name.map(|n| n.kind),
            receiver.address.map(|a| a.kind)
        ),
        (
            Some(ContactKind::PlatformEncrypted),
            Some(ContactKind::PlatformEncrypted)
        )
    );
    order["consigneeInfo"]["fullname"] = "张三".into();
    assert_eq!(
        parse_order(&order).unwrap().receiver.name.map(|n| n.kind),
        Some(ContactKind::Plain)
    );
}

/// Token answers in another shape than `{"code","msg"}` kept no text: an OAuth `error` or a
/// gateway `error_response` was `Malformed`, or (19) a dead shop on a guess.
#[test]
fn token_errors_of_any_shape_keep_the_platforms_words() {
    let now = Utc::now();
    assert_eq!(
        parse_token_response(
            &json!({"error": "invalid_grant", "error_description": "过期"}),
            now
        ),
        Err(PlatformError::AuthRefused("invalid_grant: 过期".into()))
    );
    let gateway = json!({"error_response": {"code": "19", "zh_desc": "无效access_token",
        "en_desc": "Invalid access_token"}});
    assert_eq!(
        parse_token_response(&gateway, now),
        Err(PlatformError::Unknown {
            code: "19".into(),
            message: "无效access_token Invalid access_token".into()
        })
    );
    let signature = json!({"error_response": {"code": "12", "zh_desc": "签名无效"}});
    assert!(matches!(
        parse_token_response(&signature, now),
        Err(PlatformError::InvalidRequest(_))
    ));
    assert_eq!(
        parse_token_response(&json!({"error_msg": "系统错误"}), now),
        Err(PlatformError::Unknown {
            code: String::new(),
            message: "系统错误".into()
        })
    );
}

/// `apiResult.success` sent as a string (`"false"`) was read as success: the failed page was
/// taken for an empty one. Read as the platforms send flags: a bool, "true"/"false" or 1/0.
#[test]
fn a_failed_api_result_is_read_whatever_its_flag_is_written_as() {
    for success in [
        json!(false),
        json!("false"),
        json!("FALSE"),
        json!(0),
        json!("0"),
    ] {
        let mut answer = search_answer(SEARCH_RESPONSE, json!(0), None);
        answer[SEARCH_RESPONSE]["searchorderinfo_result"]["apiResult"] = json!({"success": success,
            "chineseErrCode": "无效参数", "englishErrCode": "invalid", "numberCode": 7});
        assert!(
            matches!(parse_orders_page(&answer, PAGE1),
                Err(PlatformError::Unknown { ref code, .. }) if code == "apiResult 7"),
            "{success}"
        );
    }
    for success in [json!(true), json!("true"), json!(1), json!("1")] {
        let mut answer = search_answer(SEARCH_RESPONSE, json!(0), None);
        answer[SEARCH_RESPONSE]["searchorderinfo_result"]["apiResult"]["success"] = success.clone();
        assert!(parse_orders_page(&answer, PAGE1).is_ok(), "{success}");
    }
}

/// JD's `oaid` is read beside the order's fields, else among the consignee's: the README gives
/// it no place (§2.3), and an order without it could never be revealed.
#[test]
fn the_oaid_is_read_beside_the_order_or_in_its_consignee() {
    let mut order = recorded_order();
    order.as_object_mut().unwrap().remove("oaid");
    order["consigneeInfo"]["oaid"] = "oaid-in-consignee".into();
    assert_eq!(
        parse_order(&order).unwrap().receiver.oaid.as_deref(),
        Some("oaid-in-consignee")
    );
    order["oaid"] = "oaid-of-order".into();
    assert_eq!(
        parse_order(&order).unwrap().receiver.oaid.as_deref(),
        Some("oaid-of-order")
    );
    order["oaid"] = "".into();
    assert_eq!(
        parse_order(&order).unwrap().receiver.oaid.as_deref(),
        Some("oaid-in-consignee"),
        "an empty oaid is none"
    );
}

/// The buyer is `open_id_buyer`, else `xid_buyer`: an order that sends only the second still
/// names its buyer.
#[test]
fn the_buyer_is_the_open_id_else_the_xid() {
    let mut order = recorded_order();
    order["open_id_buyer"] = "open-1".into();
    order["xid_buyer"] = "o*AAS-xid-1".into();
    let buyer = |order: &Value| parse_order(order).unwrap().buyer.open_id;
    assert_eq!(buyer(&order).as_deref(), Some("open-1"));
    order["open_id_buyer"] = " ".into();
    assert_eq!(buyer(&order).as_deref(), Some("o*AAS-xid-1"));
    order.as_object_mut().unwrap().remove("open_id_buyer");
    assert_eq!(buyer(&order).as_deref(), Some("o*AAS-xid-1"));
    order["xid_buyer"] = " ".into();
    assert_eq!(buyer(&order), None);
}
