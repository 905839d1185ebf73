//! Reading TOP answers: recorded trades, errors, tokens and the pages' paging fields.

use leadgen_domain::{ContactKind, Money};

use super::*;

fn fixture() -> Value {
    serde_json::from_str(include_str!(
        "../../../tests/fixtures/taobao/trades_sold_get.json"
    ))
    .unwrap()
}

#[test]
fn parses_a_recorded_trades_page() {
    let (orders, has_next) = parse_trades_page(&fixture()).unwrap();
    assert!(has_next);
    assert_eq!(orders.len(), 3);
    let first = orders[0].parsed.as_ref().unwrap();
    assert_eq!(first.order_id, "3512345678901234567");
    assert_eq!(first.status, NeutralStatus::Paid);
    assert_eq!(first.created_at.to_rfc3339(), "2024-05-20T01:58:12+00:00");
    assert_eq!(first.amount, Money(19900));
    assert_eq!(
        first.receiver.phone.as_ref().unwrap().kind,
        ContactKind::Masked
    );
    assert_eq!(first.receiver.region, "浙江省 杭州市 西湖区 三墩镇");
    assert_eq!(first.items[0].title, "夏季连衣裙 A款");
    assert_eq!(
        first.buyer.open_id.as_deref(),
        Some("AAHkv2GqAEqAbHVrBCZJA-Xm")
    );
    assert_eq!(
        orders[0].raw,
        fixture()["trades_sold_get_response"]["trades"]["trade"][0]
    );
    let refunded = orders[1].parsed.as_ref().unwrap();
    assert!(refunded.refunded);
    assert_eq!(refunded.status, NeutralStatus::Closed);
    // The third trade has no `created`: kept with its error, not dropped.
    assert_eq!(orders[2].order_id.as_deref(), Some("3512345678901234999"));
    assert!(orders[2].parsed.as_ref().unwrap_err().contains("created"));
}

#[test]
fn a_refunded_sub_order_is_a_partial_refund_of_what_it_paid() {
    let mut trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
    let kept = trade["orders"]["order"][0].clone();
    let mut refunded = kept.clone();
    refunded["payment"] = "59.00".into();
    refunded["refund_status"] = "SUCCESS".into();
    trade["orders"]["order"] = serde_json::json!([kept, refunded]);
    let order = parse_trade(&trade).unwrap();
    assert!(order.refunded);
    assert_eq!(order.partial_refund, Some(Money(5_900)));
    // Every line refunded, or the trade itself: the whole order.
    trade["orders"]["order"][0]["refund_status"] = "WAIT_SELLER_AGREE".into();
    assert_eq!(parse_trade(&trade).unwrap().partial_refund, None);
    trade["orders"]["order"][0]["refund_status"] = "NO_REFUND".into();
    trade["refund_status"] = "SUCCESS".into();
    let whole = parse_trade(&trade).unwrap();
    assert!(whole.refunded);
    assert_eq!(whole.partial_refund, None);
}

#[test]
fn a_closed_refund_request_is_no_refund() {
    for (status, asked) in [
        ("NO_REFUND", false),
        ("", false),
        ("CLOSED", false),
        ("WAIT_SELLER_AGREE", true),
        ("SELLER_REFUSE_BUYER", true),
        ("SUCCESS", true),
    ] {
        assert_eq!(refund_asked(status), asked, "{status}");
    }
    let mut trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
    trade["orders"]["order"][0]["refund_status"] = "CLOSED".into();
    assert!(!parse_trade(&trade).unwrap().refunded);
    trade["orders"]["order"][0]["refund_status"] = "WAIT_SELLER_AGREE".into();
    assert!(parse_trade(&trade).unwrap().refunded);
}

#[test]
fn maps_top_errors_to_typed_errors() {
    let err = |code: i64, sub_code: &str, sub_msg: &str| {
        parse_error_response(&serde_json::json!({"error_response": {"code": code, "msg": "m", "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "r"}})).unwrap()
    };
    assert_eq!(
        err(
            7,
            "accesscontrol.limited-by-app-access-count",
            "This ban will last for 12 more seconds"
        ),
        PlatformError::Throttled {
            retry_after: Some(Duration::from_secs(12)),
            detail: "7 accesscontrol.limited-by-app-access-count m This ban will last for 12 more seconds".into()
        }
    );
    // A user's or session's ban (4, 5) states its wait the same way (README §1.4): honoured,
    // but it holds only that shop's calls, not the app key's.
    for code in [4, 5] {
        assert_eq!(
            err(
                code,
                "isv.user-call-limited",
                "This ban will last for 30 more seconds"
            )
            .retry_after(),
            Some(Duration::from_secs(30)),
            "{code}"
        );
        let json =
            serde_json::json!({"error_response": {"code": code, "msg": "User Call Limited"}});
        assert_eq!(ban_is_app_wide(&json), None);
    }
    let in_msg = serde_json::json!({"error_response": {"code": 5,
        "msg": "Session Call Limited: This ban will last for 9 more seconds"}});
    assert_eq!(
        parse_error_response(&in_msg).unwrap().retry_after(),
        Some(Duration::from_secs(9))
    );
    assert_eq!(err(4, "", "").retry_after(), None);
    assert_eq!(
        ban_is_app_wide(
            &serde_json::json!({"error_response": {"code": "7", "msg": "App Call Limited"}})
        ),
        Some(BanScope::Api)
    );
    for (sub_code, scope) in [
        ("accesscontrol.limited-by-app-access-count", BanScope::App),
        ("accesscontrol.limited-by-api-access-count", BanScope::Api),
        (
            "accesscontrol.limited-by-app-api-access-count",
            BanScope::Api,
        ),
    ] {
        assert_eq!(
            ban_is_app_wide(&serde_json::json!({"error_response": {"code": 7,
                "msg": "App Call Limited", "sub_code": sub_code}})),
            Some(scope),
            "{sub_code}"
        );
    }
    assert_eq!(
        err(27, "invalid-sessionkey", "SessionKey非法"),
        PlatformError::SessionExpired {
            detail: "27 invalid-sessionkey m SessionKey非法".into()
        }
    );
    assert!(matches!(
        err(15, "isp.remote-service-timeout", ""),
        PlatformError::Unavailable(_)
    ));
    assert!(matches!(err(25, "", ""), PlatformError::InvalidRequest(_)));
    assert!(matches!(
        err(15, "isv.invalid-parameter", ""),
        PlatformError::InvalidRequest(_)
    ));
    // A code TOP does not document: unknown, with the platform's own code and text.
    assert_eq!(
        err(9999, "isp.new-thing", "新的错误"),
        PlatformError::Unknown {
            code: "9999/isp.new-thing".into(),
            message: "m 新的错误".into()
        }
    );
    assert!(parse_error_response(&fixture()).is_none());
}

#[test]
fn reads_token_responses() {
    let now = Utc::now();
    let ok = serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "re_expires_in": 7200,
        "taobao_user_id": "706388888", "taobao_user_nick": "%E5%BA%97%E9%93%BA"});
    let t = parse_token_response(&ok, now).unwrap();
    assert_eq!(t.shop_name.as_deref(), Some("店铺"));
    assert_eq!(t.refresh_token.as_deref(), Some("rt"));
    assert_eq!(t.expires_at, Some(now + chrono::Duration::seconds(3600)));
    // re_expires_in = 0 (README §1.1): the refresh token cannot be used, and the answer says
    // so explicitly (not "not resent", which would keep the old one).
    let no_refresh = serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 3600, "re_expires_in": 0});
    let t = parse_token_response(&no_refresh, now).unwrap();
    assert_eq!(t.refresh_token, None);
    assert_eq!(t.refresh_expires_at, Some(now));
    assert!(t.refresh_unusable(now));
    // Without re_expires_in the refresh token is not declared unusable.
    let silent = serde_json::json!({"access_token": "at", "expires_in": 3600});
    assert!(
        !parse_token_response(&silent, now)
            .unwrap()
            .refresh_unusable(now)
    );
    let refused =
        serde_json::json!({"error": "invalid_grant", "error_description": "code expired"});
    assert_eq!(
        parse_token_response(&refused, now),
        Err(PlatformError::AuthRefused(
            "invalid_grant: code expired".into()
        ))
    );
    // An error OAuth does not define does not end the grant: unknown, retried later.
    let busy = serde_json::json!({"error": "server_busy", "error_description": "稍后再试"});
    assert!(matches!(
        parse_token_response(&busy, now),
        Err(PlatformError::Unknown { ref code, ref message }) if code == "server_busy" && message == "稍后再试"
    ));
}

/// A wrong app secret or a request we built wrong is our configuration, not the merchant's dead
/// grant: a session refused so must not mark every shop expired (it did, as `AuthRefused`).
#[test]
fn a_token_error_that_blames_the_app_is_an_invalid_request() {
    let now = Utc::now();
    for error in [
        "invalid_client",
        "unauthorized_client",
        "invalid_request",
        "unsupported_grant_type",
        "invalid_scope",
    ] {
        let answer = serde_json::json!({"error": error, "error_description": "client_id or client_secret is invalid"});
        assert_eq!(
            parse_token_response(&answer, now),
            Err(PlatformError::InvalidRequest(format!(
                "{error}: client_id or client_secret is invalid"
            ))),
            "{error}"
        );
    }
}

/// TOP's numbers may come as digit strings: `re_expires_in: "0"` still says the refresh token
/// is unusable, and the other expiries are read too (they were dropped).
#[test]
fn token_expiries_sent_as_strings_are_read() {
    let now = Utc::now();
    let dead = serde_json::json!({"access_token": "at", "refresh_token": "rt",
        "expires_in": "3600", "re_expires_in": "0"});
    let t = parse_token_response(&dead, now).unwrap();
    assert_eq!(t.expires_at, Some(now + chrono::Duration::seconds(3600)));
    assert_eq!(t.refresh_token, None);
    assert!(t.refresh_unusable(now));
    let live = serde_json::json!({"access_token": "at", "refresh_token": "rt",
        "re_expires_in": "7200", "expire_time": "1522420640120"});
    let t = parse_token_response(&live, now).unwrap();
    assert_eq!(t.refresh_token.as_deref(), Some("rt"));
    assert_eq!(
        t.refresh_expires_at,
        Some(now + chrono::Duration::seconds(7200))
    );
    assert_eq!(
        t.expires_at.map(|at| at.timestamp_millis()),
        Some(1_522_420_640_120)
    );
    let by_time = serde_json::json!({"access_token": "at", "refresh_token": "rt",
        "refresh_token_valid_time": "1514644640120"});
    assert_eq!(
        parse_token_response(&by_time, now)
            .unwrap()
            .refresh_expires_at
            .map(|at| at.timestamp_millis()),
        Some(1_514_644_640_120)
    );
}

/// Asked with `use_has_next`, a page without `has_next` cannot say whether more follow: read as
/// false it ended the walk after page 1 and lost the rest unseen.
#[test]
fn a_page_asked_with_has_next_must_say_it() {
    let mut page = fixture();
    let body = &mut page["trades_sold_get_response"];
    body.as_object_mut().unwrap().remove("has_next");
    assert_eq!(
        parse_trades_page(&page).unwrap_err(),
        PlatformError::Malformed("has_next is missing".into())
    );
    for bad in [
        serde_json::json!(1),
        serde_json::json!("yes"),
        serde_json::json!({}),
    ] {
        page["trades_sold_get_response"]["has_next"] = bad.clone();
        assert!(
            matches!(parse_trades_page(&page), Err(PlatformError::Malformed(_))),
            "{bad}"
        );
    }
    page["trades_sold_get_response"]["has_next"] = "false".into();
    assert!(!parse_trades_page(&page).unwrap().1);
    // The increment call asks for `total_results` instead: `has_next` may be left out there.
    page["trades_sold_get_response"]
        .as_object_mut()
        .unwrap()
        .remove("has_next");
    page["trades_sold_get_response"]["total_results"] = 3.into();
    let walked = parse_trades(&page, "trades_sold_get_response", false).unwrap();
    assert_eq!((walked.has_next, walked.total), (false, Some(3)));
}

/// A `total_results` that is not a count is no total: read as 0 it ended the backward walk.
#[test]
fn a_total_that_is_not_a_count_is_malformed() {
    let mut page = fixture();
    for bad in [
        serde_json::json!(-1),
        serde_json::json!(2.5),
        serde_json::json!("many"),
        serde_json::json!([]),
    ] {
        page["trades_sold_get_response"]["total_results"] = bad.clone();
        assert!(
            matches!(
                parse_trades(&page, "trades_sold_get_response", false),
                Err(PlatformError::Malformed(ref m)) if m.contains("total_results")
            ),
            "{bad}"
        );
    }
    page["trades_sold_get_response"]["total_results"] = " 250 ".into();
    let read = parse_trades(&page, "trades_sold_get_response", false).unwrap();
    assert_eq!(read.total, Some(250));
}

/// `num` and `price` are always sent (README §1.3): a line without a readable one makes the
/// trade unreadable, kept with a reason naming the field, never one item at no price.
#[test]
fn an_order_line_without_a_readable_quantity_or_price_is_unreadable() {
    let trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
    let with = |key: &str, value: Option<Value>| {
        let mut t = trade.clone();
        let line = t["orders"]["order"][0].as_object_mut().unwrap();
        match value {
            Some(v) => line.insert(key.to_owned(), v),
            None => line.remove(key),
        };
        parse_trade(&t)
    };
    assert_eq!(with("num", Some("2".into())).unwrap().items[0].quantity, 2);
    for bad in [
        None,
        Some(0.into()),
        Some((-1).into()),
        Some(1.5.into()),
        Some("x".into()),
    ] {
        let e = with("num", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品数量缺失或不是正整数：orders.order.num"),
            "{bad:?}: {e}"
        );
    }
    for bad in [
        None,
        Some("abc".into()),
        Some("-1.00".into()),
        Some(Value::Null),
    ] {
        let e = with("price", bad.clone()).unwrap_err();
        assert!(
            e.starts_with("商品单价缺失或无法读取：orders.order.price"),
            "{bad:?}: {e}"
        );
    }
    // Kept and counted as unreadable in its page, not dropped.
    let mut page = fixture();
    page["trades_sold_get_response"]["trades"]["trade"][0]["orders"]["order"][0]
        .as_object_mut()
        .unwrap()
        .remove("num");
    let (orders, _) = parse_trades_page(&page).unwrap();
    assert_eq!(orders[0].order_id.as_deref(), Some("3512345678901234567"));
    assert!(orders[0].parsed.as_ref().unwrap_err().contains("num"));
}
