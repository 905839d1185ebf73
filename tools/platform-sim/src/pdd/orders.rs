//! A PDD shop's generated orders, deterministic from the seed, the shop and the anchor time.
//!
//! An order is paid when it is created; it is *confirmed* (成交) at once for single purchases and
//! when its group fills for group buys. Orders whose group is still filling (拼团中) or failed
//! (团失败, refunded) have no `confirm_time`, so `pdd.order.list.get` never lists them. Which
//! buyer places each order, and when, comes from [`crate::behaviour`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use leadgen_domain::time::{beijing, format_beijing};

use super::privacy::{Secret, Vault};
use crate::behaviour::{self, BuyerTruth};
use crate::jd::people::{Person, new_person, order_time};
use crate::shop::{Shop, seeded_rng, stable_hash};
use crate::taobao::buyers::pick_str;
use crate::taobao::data::{BUYER_MESSAGES, PRODUCTS};
use crate::taobao::lifecycle::pick_weighted;

/// How far back generated orders go from the anchor.
pub const HISTORY_DAYS: i64 = 80;

/// One generated order.
#[derive(Debug, Clone)]
pub struct PddOrder {
    pub order_sn: String,
    pub created: DateTime<Utc>,
    /// 成交 time; `None` while grouping or after the group failed.
    pub confirmed: Option<DateTime<Utc>>,
    /// Last modification, `updated_at` (what `pdd.order.number.list.increment.get` filters on).
    pub updated: DateTime<Utc>,
    pub order_status: u8,
    pub refund_status: u8,
    pub trade_type: u8,
    /// Index of the buyer in [`ShopOrders::buyers`].
    pub buyer: usize,
    /// Every field, in PDD's order.
    pub json: Map<String, Value>,
}

/// A shop, its orders (by creation time descending, then `order_sn`) and its ciphertexts.
#[derive(Debug, Clone)]
pub struct ShopOrders {
    pub shop: Shop,
    pub orders: Vec<PddOrder>,
    pub secrets: HashMap<String, Secret>,
    pub order_sns: HashSet<String>,
    /// The buyers' true purchase rates and rhythms ([`behaviour`]).
    pub buyers: Vec<BuyerTruth>,
    /// Each buyer's receiver in clear, by buyer index.
    pub people: Vec<Person>,
}

#[derive(Debug, Default)]
struct Life {
    group_status: u8,
    confirm_status: u8,
    order_status: u8,
    refund_status: u8,
    after_sales_status: u8,
    confirmed: Option<DateTime<Utc>>,
    shipped: Option<DateTime<Utc>>,
    received: Option<DateTime<Utc>>,
    updated: DateTime<Utc>,
}

fn secs(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(rng.gen_range(lo..hi))
}

fn play(rng: &mut ChaCha8Rng, paid: DateTime<Utc>, anchor: DateTime<Utc>) -> Life {
    let seen = |t: DateTime<Utc>| t <= anchor;
    let mut life = Life {
        order_status: 1,
        refund_status: 1,
        updated: paid,
        ..Life::default()
    };
    let group_buy = rng.gen_bool(0.6);
    let confirm = if group_buy {
        paid + secs(rng, 30, 6 * 3600)
    } else {
        paid
    };
    if group_buy && rng.gen_bool(0.04) {
        // 团失败: refunded automatically, never confirmed.
        let failed = (paid + Duration::hours(24)).min(anchor);
        life.group_status = 2;
        life.confirm_status = 2;
        life.refund_status = 4;
        life.after_sales_status = 10;
        life.updated = failed;
        return life;
    }
    if !seen(confirm) {
        return life; // 拼团中
    }
    life.group_status = 1;
    life.confirm_status = 1;
    life.confirmed = Some(confirm);
    let ship = confirm + secs(rng, 2 * 3600, 48 * 3600);
    let receive = ship + secs(rng, 2 * 86_400, 8 * 86_400);
    let keeps_unshipped = rng.gen_bool(0.04);
    if seen(ship) && !keeps_unshipped {
        life.order_status = 2;
        life.shipped = Some(ship);
        if seen(receive) {
            life.order_status = 3;
            life.received = Some(receive);
        }
    }
    let mut latest = [Some(confirm), life.shipped, life.received]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(confirm);
    if rng.gen_bool(0.14) {
        let asked = confirm + secs(rng, 600, 5 * 86_400);
        if seen(asked) {
            let refunded = asked + secs(rng, 3600, 3 * 86_400);
            (life.refund_status, life.after_sales_status) = if seen(refunded) {
                latest = latest.max(refunded);
                (4, 10)
            } else if rng.gen_bool(0.5) {
                latest = latest.max(asked);
                (2, 2)
            } else {
                latest = latest.max(asked);
                (3, 4)
            };
        }
    }
    life.updated = latest;
    if rng.gen_bool(0.2) {
        life.updated = (latest + secs(rng, 600, 4 * 86_400))
            .min(anchor)
            .max(latest);
    }
    life
}

fn yuan(fen: u64) -> f64 {
    let fen = u32::try_from(fen).unwrap_or(u32::MAX);
    f64::from(fen) / 100.0
}

fn time_text(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::String(String::new()), |t| {
        Value::String(format_beijing(t))
    })
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
    let mut rng = seeded_rng(seed, &["PDD", "orders", &shop.seed_name()]);
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    let plan = behaviour::plan(&mut rng, count, history_days, |rng| {
        order_time(rng, anchor, history_days)
    });
    let people: Vec<Person> = plan.buyers.iter().map(|_| new_person(&mut rng)).collect();
    let mut vault = Vault::default();
    let mut order_sns = HashSet::new();
    let mut orders = Vec::with_capacity(count);
    for planned in &plan.orders {
        let created = planned.at;
        let order_sn = loop {
            let date = created.with_timezone(&beijing()).format("%y%m%d");
            let sn = format!(
                "{date}-{}",
                rng.gen_range(100_000_000_000_000u64..999_999_999_999_999)
            );
            if order_sns.insert(sn.clone()) {
                break sn;
            }
        };
        let Some(person) = people.get(planned.buyer) else {
            continue;
        };
        let paid = (created + secs(&mut rng, 3, 600)).min(anchor);
        let life = play(&mut rng, paid, anchor);
        let trade_type = u8::from(rng.gen_bool(0.08));
        let sealed = vault.seal(seed, shop, person);
        let mut json = order_json(&mut rng, seed, &order_sn, trade_type, created, paid, &life);
        let region = person.region();
        for (k, v) in [
            ("receiver_name", json!(sealed.name)),
            ("receiver_phone", json!(sealed.phone)),
            ("receiver_address", json!(sealed.detail_address)),
            ("address", json!(sealed.address)),
            ("receiver_name_mask", json!(sealed.name_mask)),
            ("receiver_phone_mask", json!(sealed.phone_mask)),
            ("address_mask", json!(sealed.address_mask)),
            ("country", json!("中国")),
            (
                "province",
                json!(region.map(|r| r.state).unwrap_or_default()),
            ),
            ("city", json!(region.map(|r| r.city).unwrap_or_default())),
            (
                "town",
                json!(region.map(|r| r.district).unwrap_or_default()),
            ),
        ] {
            json.insert(k.to_owned(), v);
        }
        orders.push(PddOrder {
            order_sn,
            created,
            confirmed: life.confirmed,
            updated: life.updated,
            order_status: life.order_status,
            refund_status: life.refund_status,
            trade_type,
            buyer: planned.buyer,
            json,
        });
    }
    orders.sort_by(|a, b| b.created.cmp(&a.created).then(a.order_sn.cmp(&b.order_sn)));
    ShopOrders {
        shop: shop.clone(),
        orders,
        secrets: vault.secrets,
        order_sns,
        buyers: plan.buyers,
        people,
    }
}

fn order_json(
    rng: &mut ChaCha8Rng,
    seed: u64,
    order_sn: &str,
    trade_type: u8,
    created: DateTime<Utc>,
    paid: DateTime<Utc>,
    life: &Life,
) -> Map<String, Value> {
    let index = rng.gen_range(0..PRODUCTS.len());
    let product = PRODUCTS.get(index);
    let price = product.map_or(990, |p| p.price_fen);
    let skus = product.map(|p| p.skus).unwrap_or_default();
    let sku_index = rng.gen_range(0..skus.len().max(1));
    let spec: Vec<&str> = skus
        .get(sku_index)
        .copied()
        .unwrap_or_default()
        .split(';')
        .filter_map(|p| p.split_once(':').map(|(_, v)| v))
        .collect();
    let count = pick_weighted(rng, &[(1u64, 85), (2, 11), (3, 4)], 1);
    let goods_amount = price * count;
    let platform_discount = if rng.gen_bool(0.3) {
        rng.gen_range(1..=5) * 100
    } else {
        0
    };
    let seller_discount = if rng.gen_bool(0.4) {
        rng.gen_range(1..=(goods_amount / 2000).max(1)) * 100
    } else {
        0
    };
    let discount = (platform_discount + seller_discount).min(goods_amount);
    let postage = pick_weighted(rng, &[(0u64, 90), (500, 6), (1000, 4)], 0);
    let goods_id =
        100_000_000 + stable_hash(seed, &["pdd-goods", &index.to_string()]) % 899_999_999;
    let sku_id = 1_000_000_000
        + stable_hash(
            seed,
            &["pdd-sku", &index.to_string(), &sku_index.to_string()],
        ) % 8_999_999_999;
    let memo = if rng.gen_bool(0.1) {
        pick_str(rng, BUYER_MESSAGES)
    } else {
        ""
    };
    let mut o = json!({
        "order_sn": order_sn,
        "order_status": life.order_status,
        "refund_status": life.refund_status,
        "confirm_status": life.confirm_status,
        "group_status": life.group_status,
        "after_sales_status": life.after_sales_status,
        "trade_type": trade_type,
        "is_lucky_flag": 1,
        "created_time": format_beijing(created),
        "pay_time": format_beijing(paid),
        "confirm_time": time_text(life.confirmed),
        "shipping_time": time_text(life.shipped),
        "receive_time": time_text(life.received),
        "last_ship_time": time_text(life.confirmed.map(|c| c + Duration::hours(48))),
        "updated_at": format_beijing(life.updated),
        "goods_amount": yuan(goods_amount),
        "discount_amount": yuan(discount),
        "platform_discount": yuan(platform_discount.min(discount)),
        "seller_discount": yuan(discount - platform_discount.min(discount)),
        "capital_free_discount": 0.0,
        "postage": yuan(postage),
        "pay_amount": yuan(goods_amount - discount + postage),
        "pay_type": pick_str(rng, &["WEIXIN", "ALIPAY", "WEIXIN", "QQ"]),
        "pay_no": format!("{}{}", paid.timestamp(), rng.gen_range(100_000..999_999)),
        "item_list": [{
            "goods_id": goods_id,
            "sku_id": sku_id,
            "goods_name": product.map(|p| p.title).unwrap_or_default(),
            "goods_spec": spec.join(" "),
            "goods_count": count,
            "goods_price": yuan(price),
            "outer_id": format!("SP{index:04}-{:02}", sku_index + 1),
            "outer_goods_id": format!("SP{index:04}"),
            "goods_img": format!("https://img.pddpic.com/mms-material-img/sim/{goods_id}.jpeg"),
        }],
        "tracking_number": if life.shipped.is_some() { format!("YT{}", rng.gen_range(1_000_000_000_000u64..9_999_999_999_999)) } else { String::new() },
        "logistics_id": if life.shipped.is_some() { 85 } else { 0 },
        "buyer_memo": memo,
        "remark": if life.updated > life.received.unwrap_or(paid) && rng.gen_bool(0.4) { "已备注：优先发货" } else { "" },
        "invoice_status": 0,
        "is_pre_sale": 0,
        "risk_control_status": 0,
    });
    if trade_type == 1 {
        o["step_order_info"] = json!({
            "step_trade_status": 2,
            "advanced_paid_fee": yuan(goods_amount / 5),
            "step_paid_fee": yuan(goods_amount - discount + postage),
            "step_discount_amount": 0.0,
        });
    }
    match o.as_object_mut() {
        Some(map) => std::mem::take(map),
        None => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopKey;
    use leadgen_domain::PlatformType;
    use leadgen_domain::time::parse_beijing;

    #[test]
    fn generation_is_deterministic_and_realistic() {
        let shop = Shop::derive(42, PlatformType::Pdd, &ShopKey::default_seller("app"));
        let anchor = Utc::now();
        let a = generate(42, &shop, 500, anchor);
        let b = generate(42, &shop, 500, anchor);
        let ja: Vec<_> = a.orders.iter().map(|o| &o.json).collect();
        let jb: Vec<_> = b.orders.iter().map(|o| &o.json).collect();
        assert_eq!(ja, jb);
        let mut combos = HashSet::new();
        let mut phones: HashMap<&str, usize> = HashMap::new();
        for o in &a.orders {
            let updated = parse_beijing(o.json["updated_at"].as_str().unwrap()).unwrap();
            assert_eq!(updated, o.updated);
            assert!(o.created <= updated && updated <= anchor, "{:?}", o.json);
            assert_eq!(o.order_sn.len(), 22);
            assert_eq!(o.confirmed.is_some(), o.json["confirm_time"] != "");
            if let Some(c) = o.confirmed {
                assert!(c >= o.created && c <= anchor);
            }
            combos.insert((o.order_status, o.refund_status, o.confirmed.is_some()));
            *phones
                .entry(o.json["receiver_phone"].as_str().unwrap())
                .or_default() += 1;
            assert!(o.json["pay_amount"].is_f64(), "yuan floats");
        }
        for c in [
            (1, 1, true),
            (2, 1, true),
            (3, 1, true),
            (3, 4, true),
            (1, 4, false),
        ] {
            assert!(combos.contains(&c), "{c:?} missing: {combos:?}");
        }
        assert!(
            combos.iter().any(|(_, r, _)| *r == 2 || *r == 3),
            "after-sales in progress"
        );
        assert!(phones.values().any(|n| *n > 1), "repeat buyers");
        assert!(a.orders.iter().any(|o| o.trade_type == 1));
        let privacy = a
            .secrets
            .values()
            .filter(|s| s.plaintext.ends_with('#'))
            .count();
        assert!(privacy > 5, "privacy numbers after decryption");
    }
}
