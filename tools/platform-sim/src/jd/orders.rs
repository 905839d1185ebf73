//! A JD shop's generated orders, deterministic from the seed, the shop and the anchor time.
//!
//! Each order is kept as the full `orderInfo` JSON (consignee name, mobile, telephone and full
//! address as TDE ciphertext; province, city, county and town in plain text, as JOS sends them;
//! the receiver's `oaid` for `jingdong.jos.order.oaid.decrypt`) plus the typed values `enSearch`
//! filters and sorts on. Which buyer places each order, and
//! when, comes from [`crate::behaviour`] (with the sale peaks of [`order_time`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use leadgen_domain::time::format_beijing;

use super::cipher::{base64, digest_bytes, jd_tde};
use super::lifecycle::{Life, play};
use super::people::{Person, new_person, order_time};
use crate::behaviour::{self, BuyerTruth};
use crate::shop::{ALNUM, Shop, URL_SAFE, random_string, seeded_rng, stable_hash};
use crate::taobao::buyers::pick_str;
use crate::taobao::data::{BUYER_MESSAGES, PRODUCTS};
use crate::taobao::lifecycle::pick_weighted;

/// How far back generated orders go from the anchor.
pub const HISTORY_DAYS: i64 = 80;

/// One generated order.
#[derive(Debug, Clone)]
pub struct JdOrder {
    pub order_id: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub state: &'static str,
    /// Index of the buyer in [`ShopOrders::buyers`].
    pub buyer: usize,
    /// The receiver's `oaid` (a key of [`ShopOrders::receivers`]).
    pub oaid: String,
    /// Every `orderInfo` field, in JOS's order.
    pub json: Map<String, Value>,
}

/// A shop and its orders, sorted by creation time descending, then `orderId` ascending.
#[derive(Debug, Clone)]
pub struct ShopOrders {
    pub shop: Shop,
    pub vender_id: u64,
    pub orders: Vec<JdOrder>,
    /// The buyers' true purchase rates and rhythms ([`behaviour`]).
    pub buyers: Vec<BuyerTruth>,
    /// The receiver behind each `oaid`, in clear (for the decrypt API).
    pub receivers: HashMap<String, Person>,
}

struct Buyer {
    person: Person,
    open_id: String,
    xid: String,
}

fn new_buyer(rng: &mut ChaCha8Rng) -> Buyer {
    Buyer {
        person: new_person(rng),
        open_id: random_string(rng, URL_SAFE, 24),
        xid: format!("o*AAS{}", random_string(rng, ALNUM, 26)),
    }
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A receiver's `oaid` in the shop: stable per person and shop (so a repeat buyer's recurs),
/// Base64 text like the platforms' opaque ids [simulator choice of shape].
pub fn oaid(seed: u64, shop: &Shop, p: &Person) -> String {
    base64(&digest_bytes(
        seed,
        &["jd-oaid", &shop.seed_name(), &p.name, &p.mobile],
        36,
    ))
}

/// The shop's TDE key id (16 bytes).
pub fn key_id(seed: u64, shop: &Shop) -> Vec<u8> {
    digest_bytes(seed, &["jd-tde-key", &shop.seed_name()], 16)
}

/// Generates `count` orders for `shop`, created in the [`HISTORY_DAYS`] days before `anchor`.
pub fn generate(seed: u64, shop: &Shop, count: usize, anchor: DateTime<Utc>) -> ShopOrders {
    generate_over(seed, shop, count, anchor, HISTORY_DAYS)
}

/// Generates `count` orders for `shop` in the `history_days` days before `anchor` (the server
/// serves [`HISTORY_DAYS`]; `platform-sim dataset --history-days` may export a longer history).
pub fn generate_over(
    seed: u64,
    shop: &Shop,
    count: usize,
    anchor: DateTime<Utc>,
    history_days: i64,
) -> ShopOrders {
    let mut rng = seeded_rng(seed, &["JD", "orders", &shop.seed_name()]);
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    let vender_id = 10_000 + shop.user_id % 990_000;
    let key = key_id(seed, shop);
    let plan = behaviour::plan(&mut rng, count, history_days, |rng| {
        order_time(rng, anchor, history_days)
    });
    let buyers: Vec<Buyer> = plan.buyers.iter().map(|_| new_buyer(&mut rng)).collect();
    let mut used = HashSet::new();
    let mut orders = Vec::with_capacity(count);
    let mut receivers = HashMap::new();
    for planned in &plan.orders {
        let order_id = loop {
            let id = rng.gen_range(280_000_000_000u64..330_000_000_000);
            if used.insert(id) {
                break id;
            }
        };
        let created = planned.at;
        let Some(buyer) = buyers.get(planned.buyer) else {
            continue;
        };
        let life = play(&mut rng, created, anchor);
        let mut json = order_json(
            &mut rng, seed, &key, vender_id, order_id, buyer, &life, created,
        );
        let oaid = oaid(seed, shop, &buyer.person);
        json.insert("oaid".into(), json!(oaid));
        receivers
            .entry(oaid.clone())
            .or_insert_with(|| buyer.person.clone());
        orders.push(JdOrder {
            order_id,
            created,
            modified: life.modified,
            state: life.stage.state(),
            buyer: planned.buyer,
            oaid,
            json,
        });
    }
    orders.sort_by(|a, b| b.created.cmp(&a.created).then(a.order_id.cmp(&b.order_id)));
    ShopOrders {
        shop: shop.clone(),
        vender_id,
        orders,
        buyers: plan.buyers,
        receivers,
    }
}

fn time_text(t: Option<DateTime<Utc>>) -> String {
    t.map(format_beijing).unwrap_or_default()
}

#[expect(
    clippy::too_many_arguments,
    reason = "one order's parts, assembled in one place"
)]
fn order_json(
    rng: &mut ChaCha8Rng,
    seed: u64,
    key: &[u8],
    vender_id: u64,
    order_id: u64,
    buyer: &Buyer,
    life: &Life,
    created: DateTime<Utc>,
) -> Map<String, Value> {
    let n_items = pick_weighted(rng, &[(1usize, 72), (2, 21), (3, 7)], 1);
    let mut items = Vec::with_capacity(n_items);
    let mut total = 0u64;
    for _ in 0..n_items {
        let index = rng.gen_range(0..PRODUCTS.len());
        let Some(product) = PRODUCTS.get(index) else {
            continue;
        };
        let sku_index = rng.gen_range(0..product.skus.len().max(1));
        let spec: Vec<&str> = product
            .skus
            .get(sku_index)
            .copied()
            .unwrap_or_default()
            .split(';')
            .filter_map(|p| p.split_once(':').map(|(_, v)| v))
            .collect();
        let qty = pick_weighted(rng, &[(1u64, 82), (2, 14), (3, 4)], 1);
        total += product.price_fen * qty;
        let sku_id = 100_000_000_000
            + stable_hash(
                seed,
                &["jd-sku", &index.to_string(), &sku_index.to_string()],
            ) % 9_000_000_000;
        items.push(json!({
            "skuId": sku_id.to_string(),
            "outerSkuId": format!("SP{index:04}-{:02}", sku_index + 1),
            "skuName": format!("{} {}", product.title, spec.join(" ")).trim().to_owned(),
            "jdPrice": yuan(product.price_fen),
            "itemTotal": qty.to_string(),
            "wareId": (10_000_000 + stable_hash(seed, &["jd-ware", &index.to_string()]) % 89_999_999).to_string(),
            "giftPoint": "0",
        }));
    }
    let discount = if rng.gen_bool(0.45) {
        rng.gen_range(1..=(total / 1000).max(1)) * 100
    } else {
        0
    }
    .min(total);
    let freight = pick_weighted(rng, &[(0u64, 75), (600, 15), (1000, 10)], 0);
    let p = &buyer.person;
    let region = p.region();
    let province = region
        .map(|r| r.state.trim_end_matches('省'))
        .unwrap_or_default();
    let mut consignee = Map::new();
    consignee.insert("fullname".into(), json!(jd_tde(seed, key, &p.name)));
    consignee.insert("mobile".into(), json!(jd_tde(seed, key, &p.mobile)));
    consignee.insert("telephone".into(), json!(jd_tde(seed, key, &p.mobile)));
    let address = jd_tde(seed, key, &p.full_address());
    consignee.insert("fullAddress".into(), json!(address));
    consignee.insert("province".into(), json!(province));
    consignee.insert(
        "city".into(),
        json!(region.map(|r| r.city).unwrap_or_default()),
    );
    consignee.insert(
        "county".into(),
        json!(region.map(|r| r.district).unwrap_or_default()),
    );
    consignee.insert("town".into(), json!(p.town));
    let remark = if rng.gen_bool(0.12) {
        pick_str(rng, BUYER_MESSAGES)
    } else {
        ""
    };
    let vender_remark = if life.modified > created && rng.gen_bool(0.5) {
        "已联系买家确认"
    } else {
        ""
    };
    let mut o = json!({
        "orderId": order_id.to_string(),
        "venderId": vender_id.to_string(),
        "orderType": "22",
        "payType": "4-在线支付",
        "orderTotalPrice": yuan(total),
        "orderSellerPrice": yuan(total - discount),
        "orderPayment": yuan(total - discount + freight),
        "freightPrice": yuan(freight),
        "sellerDiscount": yuan(discount),
        "orderState": life.stage.state(),
        "orderStateRemark": life.stage.remark(),
        "deliveryType": "任意时间",
        "invoiceInfo": "不需要开具发票",
        "orderRemark": remark,
        "orderStartTime": format_beijing(created),
        "orderEndTime": time_text(life.ended),
        "modified": format_beijing(life.modified),
        "paymentConfirmTime": time_text(life.paid),
        "consigneeInfo": consignee,
        "itemInfoList": items,
        "venderRemark": vender_remark,
        "pin": "jd_******",
        "open_id_buyer": buyer.open_id,
        "xid_buyer": buyer.xid,
        "orderSource": if rng.gen_bool(0.85) { "移动端订单" } else { "PC订单" },
    });
    match o.as_object_mut() {
        Some(map) => std::mem::take(map),
        None => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::shop::ShopKey;
    use leadgen_domain::PlatformType;

    #[test]
    fn generation_is_deterministic_and_realistic() {
        let shop = Shop::derive(42, PlatformType::Jd, &ShopKey::default_seller("app"));
        let anchor = Utc::now();
        let a = generate(42, &shop, 400, anchor);
        let b = generate(42, &shop, 400, anchor);
        let ja: Vec<_> = a.orders.iter().map(|o| &o.json).collect();
        let jb: Vec<_> = b.orders.iter().map(|o| &o.json).collect();
        assert_eq!(ja, jb);
        assert_ne!(
            a.orders[0].order_id,
            generate(43, &shop, 400, anchor).orders[0].order_id
        );
        let mut states: HashMap<&str, usize> = HashMap::new();
        let mut buyers: HashMap<&str, usize> = HashMap::new();
        for o in &a.orders {
            *states.entry(o.state).or_default() += 1;
            assert_eq!(o.order_id.to_string().len(), 12);
            assert!(o.created <= o.modified && o.modified <= anchor);
            let paid = o.json["paymentConfirmTime"].as_str().unwrap();
            if o.state == "WAIT_SELLER_STOCK_OUT" {
                assert!(!paid.is_empty());
            }
            let mobile = o.json["consigneeInfo"]["mobile"].as_str().unwrap();
            assert!(mobile.starts_with('A') && mobile.len() >= 44, "{mobile}");
            *buyers
                .entry(o.json["open_id_buyer"].as_str().unwrap())
                .or_default() += 1;
        }
        for s in [
            "WAIT_SELLER_STOCK_OUT",
            "WAIT_GOODS_RECEIVE_CONFIRM",
            "FINISHED_L",
            "TRADE_CANCELED",
            "LOCKED",
        ] {
            assert!(states.contains_key(s), "{s} missing: {states:?}");
        }
        assert!(buyers.values().any(|n| *n > 1), "repeat buyers");
        let unpaid_cancelled = a
            .orders
            .iter()
            .any(|o| o.state == "TRADE_CANCELED" && o.json["paymentConfirmTime"] == "");
        assert!(unpaid_cancelled);
        assert!(
            a.orders.iter().any(|o| o.json["venderRemark"] != ""),
            "modified later"
        );
    }
}
