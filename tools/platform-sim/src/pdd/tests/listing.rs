use std::collections::{BTreeSet, HashSet};

use super::*;
use crate::pdd::orders::HISTORY_DAYS;
use crate::pdd::orders_for;

/// Every page of one listing window, in answer order.
async fn all_pages(
    app: &impl TestApp,
    token: &str,
    b: &[(&'static str, String)],
    has_next: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let mut args = b.to_vec();
        args.push(("page", page.to_string()));
        args.push(("page_size", "23".into()));
        args.push(("use_has_next", has_next.to_string()));
        let v = api(app, &signed(LIST, token, &pairs(&args))).await.json();
        let r = &v[RESPONSE];
        let list = r["order_list"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .clone();
        let count = list.len();
        out.extend(list);
        if has_next {
            assert!(
                r.get("total_count").is_none(),
                "has_next instead of total_count"
            );
            if !r["has_next"].as_bool().unwrap() {
                break;
            }
        } else {
            assert!(r.get("has_next").is_none());
            let total = r["total_count"].as_u64().unwrap();
            if count == 0 || out.len() as u64 >= total {
                assert_eq!(out.len() as u64, total);
                break;
            }
        }
    }
    out
}

fn sns(orders: &[Value]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o["order_sn"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn windows_of_a_day_cover_every_confirmed_order_exactly_once() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let now = Utc::now().timestamp();
    let from = now - (HISTORY_DAYS + 1) * 86_400;
    let iso = |t: i64| DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    let query = form(&[("app_key", APP), ("start", &iso(from)), ("end", &iso(now))]);
    let uri = format!("/_sim/pdd/orders?{query}");
    let v = send(&app, TestRequest::get().uri(&uri).to_request())
        .await
        .json();
    let expected: Vec<String> = serde_json::from_value(v["order_ids"].clone()).unwrap();
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let unconfirmed = orders
        .orders
        .iter()
        .filter(|o| o.confirmed.is_none())
        .count();
    assert!(unconfirmed > 0, "some orders are grouping or failed");
    assert_eq!(expected.len() + unconfirmed, ORDERS);
    for has_next in [true, false] {
        let mut got = Vec::new();
        let mut start = from;
        let mut pages_max = 0;
        while start <= now {
            let end = (start + 86_399).min(now);
            let page = all_pages(&app, &token, &window(start, end), has_next).await;
            pages_max = pages_max.max(page.len().div_ceil(23));
            let confirms: Vec<&str> = page
                .iter()
                .map(|o| o["confirm_time"].as_str().unwrap())
                .collect();
            assert!(confirms.windows(2).all(|w| w[0] <= w[1]), "by confirm time");
            got.extend(sns(&page));
            start = end + 1;
        }
        assert!(pages_max > 3, "a sale day spans pages");
        assert_eq!(
            got.iter().collect::<BTreeSet<_>>().len(),
            got.len(),
            "none twice"
        );
        got.sort();
        assert_eq!(got, expected, "has_next={has_next}");
    }
}

#[actix_web::test]
async fn status_filters_and_realistic_orders() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let now = Utc::now().timestamp();
    let all = all_pages(
        &app,
        &token,
        &window(now - 51 * 3600, now - 27 * 3600),
        true,
    )
    .await;
    assert!(all.len() > 60, "the sale day: {}", all.len());
    let mut narrowed = window(now - 51 * 3600, now - 27 * 3600);
    narrowed[0].1 = "1".into();
    narrowed[1].1 = "1".into();
    let waiting = all_pages(&app, &token, &narrowed, true).await;
    assert!(waiting.len() < all.len());
    assert!(
        waiting
            .iter()
            .all(|o| o["order_status"] == 1 && o["refund_status"] == 1)
    );
    for o in &all {
        assert_eq!(o["confirm_status"], 1);
        assert!(
            o["pay_amount"].is_f64() && o["goods_amount"].is_f64(),
            "{o}"
        );
        assert!(o["receiver_phone"].as_str().unwrap().ends_with("$0$$"));
        assert!(o["receiver_name"].as_str().unwrap().starts_with('~'));
        assert!(o["receiver_phone_mask"].as_str().unwrap().contains("****"));
        assert!(
            o["item_list"][0]["goods_name"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                > 4
        );
        assert!(o["province"].as_str().unwrap().chars().count() >= 2);
    }
    let phones: Vec<&str> = all
        .iter()
        .map(|o| o["receiver_phone"].as_str().unwrap())
        .collect();
    assert!(
        phones.iter().collect::<HashSet<_>>().len() < phones.len(),
        "repeat buyers"
    );
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let updated = |o: &crate::pdd::orders::PddOrder| {
        leadgen_domain::time::parse_beijing(o.json["updated_at"].as_str().unwrap()).unwrap()
    };
    assert!(
        orders
            .orders
            .iter()
            .any(|o| updated(o) > o.confirmed.unwrap_or(o.created) + TimeDelta::days(1)),
        "orders modified long after they were confirmed"
    );
}

#[actix_web::test]
async fn decrypt_batch_opens_ciphertexts_and_privacy_numbers() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let privacy = orders
        .orders
        .iter()
        .find(|o| {
            orders.secrets[o.json["receiver_phone"].as_str().unwrap()]
                .plaintext
                .ends_with('#')
        })
        .unwrap();
    let plain = orders
        .orders
        .iter()
        .find(|o| {
            !orders.secrets[o.json["receiver_phone"].as_str().unwrap()]
                .plaintext
                .ends_with('#')
        })
        .unwrap();
    let item = |o: &crate::pdd::orders::PddOrder, field: &str| json!({"data_tag": o.order_sn, "encrypted_data": o.json[field]});
    let list = json!([
        item(privacy, "receiver_phone"),
        item(plain, "receiver_phone"),
        item(plain, "receiver_name"),
        item(plain, "address"),
        {"data_tag": plain.order_sn, "encrypted_data": "~bm90IG91cnM=~0~"},
        {"data_tag": "240101-000000000000000", "encrypted_data": plain.json["receiver_name"]},
    ])
    .to_string();
    let v = api(
        &app,
        &signed("pdd.open.decrypt.batch", &token, &[("data_list", &list)]),
    )
    .await
    .json();
    let out = v["open_decrypt_batch_response"]["data_decrypt_list"]
        .as_array()
        .unwrap();
    let virt = out[0]["decrypted_data"].as_str().unwrap();
    assert!(
        virt.starts_with('$') && virt.contains("$#") && virt.ends_with('#'),
        "{virt}"
    );
    let mobile = out[1]["decrypted_data"].as_str().unwrap();
    assert!(mobile.len() == 11 && mobile.starts_with('1'), "{mobile}");
    assert_eq!(
        plain.json["receiver_phone_mask"],
        format!("{}****{}", &mobile[..3], &mobile[7..])
    );
    assert_eq!(
        (
            out[1]["data_type"].as_u64(),
            out[2]["data_type"].as_u64(),
            out[3]["data_type"].as_u64()
        ),
        (Some(6), Some(5), Some(7))
    );
    assert!(
        out[3]["decrypted_data"]
            .as_str()
            .unwrap()
            .starts_with(plain.json["province"].as_str().unwrap())
    );
    assert_eq!(
        (out[4]["error_code"].as_u64(), out[5]["error_code"].as_u64()),
        (Some(100), Some(101))
    );
    assert!(out[..4].iter().all(|r| r["error_code"] == 0));
    let too_many = serde_json::to_string(&vec![item(plain, "receiver_name"); 101]).unwrap();
    let reply = api(
        &app,
        &signed(
            "pdd.open.decrypt.batch",
            &token,
            &[("data_list", &too_many)],
        ),
    )
    .await;
    assert_eq!(error_code(&reply), 10002);
}
