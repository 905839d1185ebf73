//! Reading TOP answers: recorded trades, errors, tokens and the pages' paging fields.

use leadgen_domain::{ContactKind, Money};

use super::*;

/// The first page of a walk.
const PAGE1: PageSpan = PageSpan {
    offset: 0,
    size: PAGE_SIZE as u64,
};

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
        PlatformError::Malformed("缺少字段 has_next".into())
    );
    for bad in [
        serde_json::json!(2),
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
    // 1/0 are read as the flags they are.
    page["trades_sold_get_response"]["has_next"] = 1.into();
    assert!(parse_trades_page(&page).unwrap().1);
    // The increment call asks for `total_results` instead: `has_next` may be left out there.
    page["trades_sold_get_response"]
        .as_object_mut()
        .unwrap()
        .remove("has_next");
    page["trades_sold_get_response"]["total_results"] = 3.into();
    let walked = parse_trades(&page, "trades_sold_get_response", false, PAGE1).unwrap();
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
                parse_trades(&page, "trades_sold_get_response", false, PAGE1),
                Err(PlatformError::Malformed(ref m)) if m.contains("total_results")
            ),
            "{bad}"
        );
    }
    page["trades_sold_get_response"]["total_results"] = " 250 ".into();
    let read = parse_trades(&page, "trades_sold_get_response", false, PAGE1).unwrap();
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

/// Asked with `use_has_next`, an answer without `has_next` that still carries `total_results`
/// says what follows by its total (`page_no × page_size < total_results`): it was refused as
/// `Malformed` though readable. With neither, it stays malformed.
#[test]
fn without_has_next_the_total_says_whether_more_follow() {
    let mut page = fixture();
    let body = page["trades_sold_get_response"].as_object_mut().unwrap();
    body.remove("has_next");
    body.insert("total_results".into(), " 250 ".into());
    let at = |n: u32| PageSpan::numbered(n, 1, PAGE_SIZE);
    let read = |page: &Value, n: u32| parse_trades(page, "trades_sold_get_response", true, at(n));
    let first = read(&page, 1).unwrap();
    assert_eq!(
        (first.has_next, first.total, first.orders.len()),
        (true, Some(250), 3)
    );
    assert!(read(&page, 2).unwrap().has_next);
    assert!(!read(&page, 3).unwrap().has_next);
    // An unreadable `has_next` beside a readable total: the total says.
    page["trades_sold_get_response"]["has_next"] = "yes".into();
    assert!(read(&page, 1).unwrap().has_next);
    // Neither usable.
    page["trades_sold_get_response"]["total_results"] = "many".into();
    assert!(matches!(read(&page, 1), Err(PlatformError::Malformed(_))));
    page["trades_sold_get_response"]
        .as_object_mut()
        .unwrap()
        .remove("total_results");
    assert!(
        matches!(read(&page, 1), Err(PlatformError::Malformed(ref m)) if m.contains("has_next"))
    );
}

/// With `simplify=true` TOP sends lists without their wrapper: a bare `"trades": […]` was read
/// as no trades (`trades.trade` absent), an empty page that ended the walk.
#[test]
fn trades_are_read_as_a_bare_list_too() {
    let trades = fixture()["trades_sold_get_response"]["trades"]["trade"].clone();
    let bare =
        serde_json::json!({"trades_sold_get_response": {"has_next": true, "trades": trades}});
    let (orders, has_next) = parse_trades_page(&bare).unwrap();
    assert_eq!((orders.len(), has_next), (3, true));
    assert_eq!(orders[0].order_id.as_deref(), Some("3512345678901234567"));
    // Under the increment key, in another letter case, or the answer's one `…_response` key.
    for key in [
        "trades_sold_increment_get_response",
        "TRADES_SOLD_INCREMENT_GET_RESPONSE",
        "trades_sold_incr_get_response",
    ] {
        let answer = serde_json::json!({ key: {"total_results": 3, "trades": {"trade": trades}} });
        let read =
            parse_trades(&answer, "trades_sold_increment_get_response", false, PAGE1).unwrap();
        assert_eq!((read.orders.len(), read.total), (3, Some(3)), "{key}");
    }
}

/// A trades list absent, of another shape, or empty while the answer says more pages follow was
/// an empty page: the walk ended (or skipped the page) and the trades were lost unseen. The last
/// page of a total that counts more than it lists is empty (the walk's count catches it): refused,
/// it failed every sync of the shop's window.
#[test]
fn a_page_that_says_more_follow_must_carry_trades() {
    let key = "trades_sold_get_response";
    for body in [
        serde_json::json!({"has_next": true}),
        serde_json::json!({"has_next": true, "trades": {"trade": []}}),
        serde_json::json!({"has_next": true, "trades": {}}),
        serde_json::json!({"has_next": true, "trades": []}),
        serde_json::json!({"total_results": 103}),
        serde_json::json!({"total_results": 103, "trades": null}),
    ] {
        let answer = serde_json::json!({ key: body });
        assert!(
            matches!(
                parse_trades(&answer, key, true, PAGE1),
                Err(PlatformError::Malformed(ref m)) if m.contains("trades")
            ),
            "{answer}"
        );
    }
    for body in [
        serde_json::json!({"has_next": false, "trades": "3512345678901234567"}),
        serde_json::json!({"has_next": false, "trades": {"trade": {"tid": 1}}}),
    ] {
        let answer = serde_json::json!({ key: body });
        assert!(
            matches!(
                parse_trades(&answer, key, true, PAGE1),
                Err(PlatformError::Malformed(ref m)) if m.contains("不是列表")
            ),
            "{answer}"
        );
    }
    // TOP leaves an empty list out: with nothing on this page it is an empty page.
    for body in [
        serde_json::json!({"has_next": false}),
        serde_json::json!({"total_results": 0}),
        serde_json::json!({"total_results": "0", "trades": {"trade": []}}),
    ] {
        let answer = serde_json::json!({ key: body });
        let read = parse_trades(&answer, key, false, PAGE1).unwrap();
        assert!(read.orders.is_empty() && !read.has_next, "{answer}");
    }
    // A backward walk's page past the end of a total that shrank mid-walk is empty, and so is
    // the last page of a total that counts more than the pages list (the walk's count of what
    // it read reads the window again, then warns); a page the total says others follow is not.
    let third = PageSpan::numbered(3, 1, PAGE_SIZE);
    for total in [150, 250] {
        let answer = serde_json::json!({ key: {"total_results": total} });
        let read = parse_trades(&answer, key, false, third).unwrap();
        assert!(read.orders.is_empty() && !read.has_next);
        assert_eq!(read.total, Some(total));
    }
    let followed = serde_json::json!({ key: {"total_results": 301} });
    assert!(matches!(
        parse_trades(&followed, key, false, third),
        Err(PlatformError::Malformed(_))
    ));
}

/// A TOP `error_response` from the token endpoint was `Malformed("token response without
/// access_token")`, retried by the session with the same refresh token up to 7 times, and its
/// text lost. It is read by TOP's code table, the text kept; a session code (26/27, for an API
/// call's session) and any other code are unknown, never a dead grant on a guess.
#[test]
fn a_top_error_from_the_token_endpoint_keeps_its_words() {
    let now = Utc::now();
    let top = |code: i64, sub_code: &str, msg: &str, sub_msg: &str| {
        parse_token_response(
            &serde_json::json!({"error_response": {"code": code, "msg": msg,
                "sub_code": sub_code, "sub_msg": sub_msg, "request_id": "r"}}),
            now,
        )
        .unwrap_err()
    };
    assert_eq!(
        top(
            15,
            "isv.refresh-token-invalid",
            "Remote service error",
            "刷新令牌无效"
        ),
        PlatformError::InvalidRequest(
            "code 15 Remote service error isv.refresh-token-invalid 刷新令牌无效".into()
        )
    );
    assert_eq!(
        top(
            27,
            "invalid-sessionkey",
            "Invalid session",
            "SessionKey非法"
        ),
        PlatformError::Unknown {
            code: "27/invalid-sessionkey".into(),
            message: "Invalid session SessionKey非法".into()
        }
    );
    assert_eq!(
        top(53, "", "新错误", ""),
        PlatformError::Unknown {
            code: "53".into(),
            message: "新错误".into()
        }
    );
    assert!(matches!(
        top(
            7,
            "accesscontrol.limited-by-app-access-count",
            "App Call Limited",
            "This ban will last for 5 more seconds"
        ),
        PlatformError::Throttled { .. }
    ));
    assert!(matches!(
        top(25, "", "Invalid signature", ""),
        PlatformError::InvalidRequest(_)
    ));
    // An error's words without any envelope: unknown, kept.
    assert_eq!(
        parse_token_response(
            &serde_json::json!({"code": 50, "msg": "系统错误", "sub_msg": "稍后重试"}),
            now
        ),
        Err(PlatformError::Unknown {
            code: "50".into(),
            message: "系统错误 稍后重试".into()
        })
    );
    // Only a success-shaped answer without a token is malformed.
    assert!(matches!(
        parse_token_response(&serde_json::json!({"expires_in": 3600}), now),
        Err(PlatformError::Malformed(ref m)) if m.contains("access_token")
    ));
}

/// A receiver value of no recognised form was a plain contact (stored as the buyer's own):
/// only a phone number in clear is one; anything else is opaque.
#[test]
fn an_unrecognised_receiver_value_is_never_plain() {
    let mut trade = fixture()["trades_sold_get_response"]["trades"]["trade"][0].clone();
    for (mobile, kind) in [
        ("*******5678", ContactKind::Masked),
        ("13812345678", ContactKind::Plain),
        ("18877771111-123", ContactKind::Virtual),
        ("<encrypted>", ContactKind::PlatformEncrypted),
        (
            "AgE+1STBoIEdpJWS+EEIXMAGPrYrMAElKpRUJ5XRypgk",
            ContactKind::PlatformEncrypted,
        ),
        ("AgE-1STBoIEd_", ContactKind::PlatformEncrypted),
    ] {
        trade["receiver_mobile"] = mobile.into();
        let order = parse_trade(&trade).unwrap();
        assert_eq!(order.receiver.phone.map(|p| p.kind), Some(kind), "{mobile}");
    }
    trade["receiver_name"] = "<encrypted>".into();
    assert_eq!(
        parse_trade(&trade).unwrap().receiver.name.map(|n| n.kind),
        Some(ContactKind::PlatformEncrypted)
    );
}

/// The README's sample answer (§1.1) carries `expires_in` 7,776,000 s beside `expire_time`
/// 1522420640120 (2018): read first, the absolute time made a token granted now look expired
/// for years, and every call refreshed it. The relative lifetime wins when it is given; the
/// absolute time only stands in for it.
#[test]
fn a_relative_lifetime_wins_over_a_stale_absolute_one() {
    let now = Utc::now();
    let sample = serde_json::json!({"access_token": "at", "token_type": "Bearer",
        "expires_in": 7776000, "refresh_token": "rt", "re_expires_in": 0,
        "expire_time": 1522420640120_i64, "refresh_token_valid_time": 1514644640120_i64});
    let t = parse_token_response(&sample, now).unwrap();
    assert_eq!(
        t.expires_at,
        Some(now + chrono::Duration::seconds(7_776_000))
    );
    let live = serde_json::json!({"access_token": "at", "refresh_token": "rt",
        "expires_in": "3600", "re_expires_in": "7200",
        "expire_time": "1522420640120", "refresh_token_valid_time": "1514644640120"});
    let t = parse_token_response(&live, now).unwrap();
    assert_eq!(t.expires_at, Some(now + chrono::Duration::seconds(3600)));
    assert_eq!(
        t.refresh_expires_at,
        Some(now + chrono::Duration::seconds(7200))
    );
    // Without a relative lifetime (or with 0), the absolute time is what there is.
    for expires_in in [None, Some(serde_json::json!(0))] {
        let mut only =
            serde_json::json!({"access_token": "at", "expire_time": 1_900_000_000_000_i64});
        if let Some(v) = expires_in {
            only["expires_in"] = v;
        }
        assert_eq!(
            parse_token_response(&only, now)
                .unwrap()
                .expires_at
                .map(|at| at.timestamp_millis()),
            Some(1_900_000_000_000)
        );
    }
}
