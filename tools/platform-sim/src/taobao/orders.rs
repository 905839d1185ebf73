//! A shop's generated trades, deterministic from the seed, the shop and the anchor time.
//!
//! Each trade is kept as the full TOP JSON object (fields in TOP's order, receiver data masked
//! as trade lists show it) plus the few typed values the APIs filter and sort on. Which buyer
//! places each trade, and when, comes from [`crate::behaviour`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use leadgen_domain::time::format_beijing;

use super::buyers::{Buyer, Receiver, new_buyer, pick_str};
use super::data::{BUYER_MESSAGES, PRODUCTS, Product, REGIONS};
use super::lifecycle::{Lifecycle, Stage, pick_weighted, play};
use crate::behaviour::{self, BuyerTruth};
use crate::shop::{Shop, seeded_rng, stable_hash};

/// How far back generated trades go from the anchor.
pub const HISTORY_DAYS: i64 = 80;

/// Trade types and how often each occurs. Only `guarantee_trade, auto_delivery, ec, cod, step`
/// are listed when a caller omits `type`, so most of these would be missed.
const TYPES: &[(&str, u32)] = &[
    ("fixed", 46),
    ("guarantee_trade", 14),
    ("auction", 7),
    ("step", 8),
    ("independent_simple_trade", 6),
    ("ec", 7),
    ("cod", 6),
    ("auto_delivery", 6),
];

/// One generated trade.
#[derive(Debug, Clone)]
pub struct TradeRecord {
    pub tid: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub trade_type: &'static str,
    pub status: &'static str,
    pub buyer_open_uid: String,
    pub buyer_nick: String,
    /// Index of the buyer in [`ShopOrders::buyers`].
    pub buyer: usize,
    /// The receiver's `oaid` (a key of [`ShopOrders::receivers`]).
    pub oaid: String,
    /// Every field, in TOP's order; `orders` holds `{"order": […]}`.
    pub json: Map<String, Value>,
}

/// A shop and its trades, sorted by `created` descending, then `tid` ascending.
#[derive(Debug, Clone)]
pub struct ShopOrders {
    pub shop: Shop,
    pub trades: Vec<TradeRecord>,
    /// The buyers' true purchase rates and rhythms ([`behaviour`]).
    pub buyers: Vec<BuyerTruth>,
    /// The receiver behind each `oaid` the trades carry, in clear (for the decrypt API).
    pub receivers: HashMap<String, Receiver>,
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn time_field(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(format_beijing(t)))
        .unwrap_or(Value::Null)
}

struct Item {
    oid: u64,
    product: usize,
    sku: usize,
    num: u64,
    total: u64,
    discount: u64,
    refunded: bool,
}

/// Generates `count` trades for `shop`, created in the [`HISTORY_DAYS`] days before `anchor`.
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
    let mut rng = seeded_rng(seed, &["TAOBAO", "orders", &shop.seed_name()]);
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    let mut used_ids = HashSet::new();
    let mut next_id = |rng: &mut ChaCha8Rng| loop {
        let id = rng.gen_range(1_600_000_000_000_000_000u64..4_300_000_000_000_000_000);
        if used_ids.insert(id) {
            return id;
        }
    };
    // Who buys when ([`behaviour`]); cart checkouts share their creation second.
    let plan = behaviour::plan(&mut rng, count, history_days, |rng| {
        anchor - Duration::seconds(rng.gen_range(0..history_days * 86_400))
    });
    let buyers: Vec<Buyer> = plan.buyers.iter().map(|_| new_buyer(&mut rng)).collect();
    let mut trades = Vec::with_capacity(count);
    for planned in &plan.orders {
        let tid = next_id(&mut rng);
        let created = planned.at;
        let Some(buyer) = buyers.get(planned.buyer) else {
            continue;
        };
        let trade_type = pick_weighted(&mut rng, TYPES, "fixed");
        let life = play(&mut rng, created, anchor);
        let n_items = pick_weighted(&mut rng, &[(1usize, 70), (2, 22), (3, 8)], 1);
        let mut items = Vec::with_capacity(n_items);
        for k in 0..n_items {
            let product = rng.gen_range(0..PRODUCTS.len());
            let p = PRODUCTS.get(product).map_or(0, |p| p.price_fen);
            let num = pick_weighted(&mut rng, &[(1u64, 80), (2, 15), (3, 5)], 1);
            let total = p * num;
            let discount = if rng.gen_bool(0.4) {
                rng.gen_range(1..=(total / 1000).max(1)) * 100
            } else {
                0
            };
            items.push(Item {
                oid: if n_items == 1 { tid } else { next_id(&mut rng) },
                product,
                sku: rng.gen_range(0..8),
                num,
                total,
                discount: discount.min(total),
                refunded: life.stage == Stage::ClosedRefunded
                    || (life.stage == Stage::Finished
                        && k + 1 == n_items
                        && k > 0
                        && rng.gen_bool(0.2)),
            });
        }
        let post_fee = pick_weighted(
            &mut rng,
            &[(0u64, 70), (600, 10), (800, 8), (1000, 7), (1200, 5)],
            0,
        );
        let json = trade_json(
            &mut rng, seed, shop, tid, trade_type, buyer, &life, &items, post_fee, created,
        );
        trades.push(TradeRecord {
            tid,
            created,
            modified: life.modified,
            trade_type,
            status: life.stage.as_str(),
            buyer_open_uid: buyer.open_uid.clone(),
            buyer_nick: buyer.nick.clone(),
            buyer: planned.buyer,
            oaid: buyer.oaid.clone(),
            json,
        });
    }
    trades.sort_by(|a, b| b.created.cmp(&a.created).then(a.tid.cmp(&b.tid)));
    let receivers = buyers.into_iter().map(|b| (b.oaid, b.receiver)).collect();
    ShopOrders {
        shop: shop.clone(),
        trades,
        buyers: plan.buyers,
        receivers,
    }
}

fn num_iid(seed: u64, shop: &Shop, product: usize) -> u64 {
    600_000_000_000
        + stable_hash(seed, &["num_iid", &shop.seed_name(), &product.to_string()]) % 99_999_999_999
}

fn pic_path(shop: &Shop, product: usize) -> String {
    format!(
        "https://img.alicdn.com/bao/uploaded/i{}/{}/O1CN01sim{product:04}_!!{}.jpg",
        product % 4 + 1,
        shop.user_id,
        shop.user_id
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "one trade's parts, assembled in one place"
)]
fn trade_json(
    rng: &mut ChaCha8Rng,
    seed: u64,
    shop: &Shop,
    tid: u64,
    trade_type: &str,
    buyer: &Buyer,
    life: &Lifecycle,
    items: &[Item],
    post_fee: u64,
    created: DateTime<Utc>,
) -> Map<String, Value> {
    let status = life.stage.as_str();
    let total: u64 = items.iter().map(|i| i.total).sum();
    let discount: u64 = items.iter().map(|i| i.discount).sum();
    let payment = total - discount + post_fee;
    let refunded: u64 = items
        .iter()
        .filter(|i| i.refunded)
        .map(|i| i.total - i.discount)
        .sum();
    let received = if life.stage == Stage::Finished {
        payment.saturating_sub(refunded)
    } else {
        0
    };
    let product_of = |i: &Item| PRODUCTS.get(i.product);
    let first = items.first();
    let first_product: Option<&Product> = first.and_then(product_of);
    let region = REGIONS.get(buyer.region);
    let orders: Vec<Value> = items
        .iter()
        .map(|item| {
            let p = product_of(item);
            let skus = p.map(|p| p.skus).unwrap_or_default();
            let sku_index = item.sku % skus.len().max(1);
            let order_status = if item.refunded {
                "TRADE_CLOSED"
            } else {
                status
            };
            let refund_status = if item.refunded {
                "SUCCESS"
            } else if life.refund_pending {
                "WAIT_SELLER_AGREE"
            } else {
                "NO_REFUND"
            };
            let iid = num_iid(seed, shop, item.product);
            let mut o = json!({
                "oid": item.oid, "oid_str": item.oid.to_string(),
                "num_iid": iid,
                "sku_id": (iid % 1_000_000) * 10_000_000 + 4_000_000 + sku_index as u64,
                "sku_properties_name": skus.get(sku_index).copied().unwrap_or_default(),
                "outer_iid": format!("SP{:04}", item.product),
                "outer_sku_id": format!("SP{:04}-{:02}", item.product, sku_index + 1),
                "title": p.map(|p| p.title).unwrap_or_default(),
                "pic_path": pic_path(shop, item.product),
                "price": yuan(p.map_or(0, |p| p.price_fen)),
                "num": item.num,
                "total_fee": yuan(item.total),
                "payment": yuan(item.total - item.discount),
                "discount_fee": yuan(item.discount),
                "adjust_fee": "0.00",
                "divide_order_fee": yuan(item.total - item.discount),
                "status": order_status,
                "refund_status": refund_status,
                "cid": p.map_or(0, |p| p.cid),
                "consign_time": time_field(life.consign_time),
                "end_time": time_field(life.end_time),
                "shipping_type": "express",
                "buyer_rate": life.stage == Stage::Finished && rng.gen_bool(0.6),
                "seller_rate": life.stage == Stage::Finished && rng.gen_bool(0.3),
            });
            drop_nulls(&mut o);
            o
        })
        .collect();
    let message = if rng.gen_bool(0.12) {
        Some(pick_str(rng, BUYER_MESSAGES))
    } else {
        None
    };
    let step = (trade_type == "step").then(|| {
        if life.stage.is_paid() {
            ("FRONT_PAID_FINAL_PAID", payment)
        } else if life.stage == Stage::WaitPay && rng.gen_bool(0.3) {
            ("FRONT_PAID_FINAL_NOPAID", payment / 5)
        } else {
            ("FRONT_NOPAID_FINAL_NOPAID", 0)
        }
    });
    let mut t = json!({
        "tid": tid, "tid_str": tid.to_string(),
        "status": status, "type": trade_type,
        "title": shop.nick, "seller_nick": shop.nick,
        "buyer_nick": buyer.nick, "buyer_open_uid": buyer.open_uid,
        "created": format_beijing(created),
        "pay_time": time_field(life.pay_time),
        "consign_time": time_field(life.consign_time),
        "end_time": time_field(life.end_time),
        "modified": format_beijing(life.modified),
        "num": if items.len() == 1 { first.map_or(0, |i| i.num) } else { 0 },
        "num_iid": first.map_or(0, |i| num_iid(seed, shop, i.product)),
        "price": yuan(first_product.map_or(0, |p| p.price_fen)),
        "pic_path": first.map(|i| pic_path(shop, i.product)).unwrap_or_default(),
        "total_fee": yuan(total), "payment": yuan(payment),
        "post_fee": yuan(post_fee), "discount_fee": yuan(discount), "adjust_fee": "0.00",
        "received_payment": yuan(received),
        "shipping_type": "express",
        "receiver_name": buyer.name,
        "receiver_state": region.map(|r| r.state).unwrap_or_default(),
        "receiver_city": region.map(|r| r.city).unwrap_or_default(),
        "receiver_district": region.map(|r| r.district).unwrap_or_default(),
        "receiver_town": buyer.town,
        "receiver_address": "**********",
        "receiver_zip": region.map(|r| r.zip).unwrap_or_default(),
        "receiver_mobile": buyer.mobile,
        "receiver_phone": buyer.phone,
        "oaid": buyer.oaid,
        "buyer_message": message.map_or(Value::Null, Value::from),
        "has_buyer_message": message.is_some(),
        "buyer_rate": orders.iter().any(|o| o.get("buyer_rate") == Some(&Value::Bool(true))),
        "seller_rate": orders.iter().any(|o| o.get("seller_rate") == Some(&Value::Bool(true))),
        "seller_flag": 0,
        "trade_from": if rng.gen_bool(0.8) { "WAP,WAP" } else { "TAOBAO" },
        "step_trade_status": step.map_or(Value::Null, |s| Value::from(s.0)),
        "step_paid_fee": step.map_or(Value::Null, |s| Value::from(yuan(s.1))),
        "orders": { "order": orders },
    });
    drop_nulls(&mut t);
    match t {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// TOP leaves absent values out rather than sending `null`.
fn drop_nulls(v: &mut Value) {
    if let Value::Object(map) = v {
        map.retain(|_, v| !v.is_null());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopKey;
    use leadgen_domain::PlatformType;

    #[test]
    fn generation_is_deterministic_and_realistic() {
        let shop = Shop::derive(42, PlatformType::Taobao, &ShopKey::default_seller("app"));
        let anchor = Utc::now();
        let a = generate(42, &shop, 300, anchor);
        let b = generate(42, &shop, 300, anchor);
        let ja: Vec<_> = a.trades.iter().map(|t| &t.json).collect();
        let jb: Vec<_> = b.trades.iter().map(|t| &t.json).collect();
        assert_eq!(ja, jb);
        let other = generate(43, &shop, 300, anchor);
        assert_ne!(a.trades[0].tid, other.trades[0].tid);
        let tids: HashSet<u64> = a.trades.iter().map(|t| t.tid).collect();
        assert_eq!(tids.len(), 300);
        for t in &a.trades {
            assert_eq!(t.tid.to_string().len(), 19);
            assert!(t.modified >= t.created && t.created <= anchor);
            assert!(anchor - t.created <= Duration::days(HISTORY_DAYS));
            if t.status == "WAIT_BUYER_PAY" {
                assert!(!t.json.contains_key("pay_time"));
            }
        }
        let statuses: HashSet<&str> = a.trades.iter().map(|t| t.status).collect();
        for s in [
            "TRADE_FINISHED",
            "TRADE_CLOSED",
            "TRADE_CLOSED_BY_TAOBAO",
            "WAIT_BUYER_CONFIRM_GOODS",
        ] {
            assert!(statuses.contains(s), "{s} missing");
        }
        let types: HashSet<&str> = a.trades.iter().map(|t| t.trade_type).collect();
        for s in [
            "fixed",
            "auction",
            "step",
            "independent_simple_trade",
            "guarantee_trade",
        ] {
            assert!(types.contains(s), "{s} missing");
        }
    }
}
