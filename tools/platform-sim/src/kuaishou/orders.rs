//! A Kuaishou shop's generated orders (one item each), deterministic from the seed, the shop (app
//! key and seller) and the anchor. Shapes [unverified] as in `leadgen_platforms::kuaishou`:
//! `orderBaseInfo`, `orderItemInfo`, `orderRefundList`, `orderAddress` (Base64 ciphertexts +
//! `desensitise*` masks, or a privacy number in `mobile`), `orderLogisticsInfo`; fen, milliseconds.
//! Which buyer places each order, and when, comes from [`crate::behaviour`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use leadgen_domain::PlatformType;

use crate::behaviour::{self, BuyerTruth};
use crate::douyin::buyers::{
    Buyer, Field, Receiver, Sealed, creation_time, mask_mobile, new_buyer, privacy_number,
};
use crate::douyin::order_json::region_parts;
use crate::douyin::orders::sealed_receivers;
use crate::shop::{LOWER_HEX, Shop, ShopKey, random_string, seed_name, seeded_rng, stable_hash};
use crate::taobao::buyers::pick_str;
use crate::taobao::data::{BUYER_MESSAGES, PRODUCTS};
use crate::taobao::lifecycle::{Lifecycle, Stage, pick_weighted, play};
use crate::taobao::orders::HISTORY_DAYS;

/// The seller who consented to an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KsShop {
    pub app_key: String,
    /// The login name that consented.
    pub seller: String,
    pub seller_id: u64,
    /// The seller's open id: the token answer's `open_id`, the orders' `sellerOpenId`.
    pub open_id: String,
    pub nick: String,
}

impl KsShop {
    pub fn derive(seed: u64, key: &ShopKey) -> KsShop {
        let shop = Shop::derive(seed, PlatformType::Kuaishou, key);
        let mut rng = seeded_rng(seed, &["KUAISHOU", "seller", &key.seed_name()]);
        KsShop {
            app_key: shop.app_key,
            seller: shop.seller,
            seller_id: shop.user_id,
            open_id: random_string(&mut rng, LOWER_HEX, 32),
            nick: shop.nick,
        }
    }

    /// [`ShopKey::seed_name`] of this shop: what seeds its orders.
    pub fn seed_name(&self) -> Cow<'_, str> {
        seed_name(&self.app_key, &self.seller)
    }
}

/// One generated order.
#[derive(Debug, Clone)]
pub struct KsOrder {
    pub oid: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub status: i64,
    /// 1 普通, 2 分销 (the `cpsType` filter's numbering).
    pub cps_type: i64,
    /// Index of the buyer in [`ShopOrders::buyers`].
    pub buyer: usize,
    pub json: Value,
}

/// A shop and its orders, sorted by `createTime` descending, then `oid` descending.
#[derive(Debug, Clone)]
pub struct ShopOrders {
    pub shop: KsShop,
    pub orders: Vec<KsOrder>,
    /// The buyers' true purchase rates and rhythms ([`behaviour`]).
    pub buyers: Vec<BuyerTruth>,
    /// Each buyer's receiver in clear, by buyer index (for `open.order.decrypt.batch`).
    pub receivers: Vec<Receiver>,
    /// What each ciphertext the shop's orders carry opens to.
    pub ciphers: HashMap<String, Sealed>,
}

/// Privacy numbers Kuaishou hands out start with 170 (as the ones sent in clear).
pub const PRIVACY_PREFIX: &str = "170";

/// The buyer's `encrypted*` ciphertext of `field` (`tel`, `name`, `addr`) in the shop `key`.
pub fn sealed_field(buyer: &Buyer, key: &str, field: &str) -> String {
    format!("{}==", buyer.cipher(field, key, 62))
}

fn ms(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp_millis())
}

fn status_code(
    rng: &mut ChaCha8Rng,
    life: &Lifecycle,
    anchor: DateTime<Utc>,
    age: Duration,
) -> i64 {
    match life.stage {
        // Unpaid orders close after 30 minutes.
        Stage::WaitPay if age >= Duration::minutes(30) => 80,
        Stage::WaitPay => 10,
        Stage::WaitSend => 30,
        Stage::WaitConfirm => 40,
        // Received within the last week: not yet settled as 交易成功.
        Stage::Finished
            if life
                .end_time
                .is_some_and(|t| anchor - t < Duration::days(7))
                && rng.gen_bool(0.6) =>
        {
            50
        }
        Stage::Finished => 70,
        Stage::ClosedUnpaid | Stage::ClosedRefunded | Stage::ClosedByTaobao => 80,
    }
}

/// Generates `count` orders for `shop` in the [`HISTORY_DAYS`] days before `anchor`.
pub fn generate(seed: u64, shop: &KsShop, count: usize, anchor: DateTime<Utc>) -> ShopOrders {
    generate_over(seed, shop, count, anchor, HISTORY_DAYS)
}

/// Generates `count` orders for `shop` in the `history_days` days before `anchor` (the server
/// serves [`HISTORY_DAYS`]; `platform-sim dataset --history-days` may export a longer history).
pub fn generate_over(
    seed: u64,
    shop: &KsShop,
    count: usize,
    anchor: DateTime<Utc>,
    history_days: i64,
) -> ShopOrders {
    let mut rng = seeded_rng(seed, &["KUAISHOU", "orders", &shop.seed_name()]);
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    // Who buys when ([`behaviour`]), at the live sessions' and last minutes' peaks; cart
    // checkouts come from the plan, not from `creation_time`.
    let plan = behaviour::plan(&mut rng, count, history_days, |rng| {
        creation_time(rng, anchor, history_days, None)
    });
    let buyers: Vec<Buyer> = plan.buyers.iter().map(|_| new_buyer(&mut rng)).collect();
    let mut used = HashSet::new();
    let mut orders = Vec::with_capacity(count);
    for planned in &plan.orders {
        let oid = loop {
            let id = rng.gen_range(2_300_000_000_000_000u64..2_499_999_999_999_999);
            if used.insert(id) {
                break id;
            }
        };
        let created = planned.at;
        let Some(buyer) = buyers.get(planned.buyer) else {
            continue;
        };
        let life = play(&mut rng, created, anchor);
        let status = status_code(&mut rng, &life, anchor, anchor - created);
        let created_ms = created.timestamp_millis() + rng.gen_range(0..1000);
        // Price changes, notes and address edits touch an order after its last event.
        let updated_ms = life.modified.timestamp_millis().max(created_ms) + rng.gen_range(0..1000);
        let cps_type = if rng.gen_bool(0.2) { 2 } else { 1 };
        let json = order_json(
            &mut rng,
            shop,
            oid,
            buyer,
            &life,
            status,
            cps_type,
            (created_ms, updated_ms),
        );
        orders.push(KsOrder {
            oid,
            created_ms,
            updated_ms,
            status,
            cps_type,
            buyer: planned.buyer,
            json,
        });
    }
    orders.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.oid.cmp(&a.oid)));
    let (receivers, ciphers) = sealed_receivers(
        &buyers,
        &shop.seller_id.to_string(),
        PRIVACY_PREFIX,
        |b, key| {
            [
                (sealed_field(b, key, "tel"), Field::Phone),
                (sealed_field(b, key, "name"), Field::Name),
                (sealed_field(b, key, "addr"), Field::Address),
            ]
        },
    );
    ShopOrders {
        shop: shop.clone(),
        orders,
        buyers: plan.buyers,
        receivers,
        ciphers,
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one order's parts, assembled in one place"
)]
fn order_json(
    rng: &mut ChaCha8Rng,
    shop: &KsShop,
    oid: u64,
    buyer: &Buyer,
    life: &Lifecycle,
    status: i64,
    cps_type: i64,
    (created_ms, updated_ms): (i64, i64),
) -> Value {
    let product_index = rng.gen_range(0..PRODUCTS.len());
    let product = PRODUCTS.get(product_index);
    let price = product.map_or(0, |p| p.price_fen);
    let num = pick_weighted(rng, &[(1u64, 80), (2, 15), (3, 5)], 1);
    let discount = if rng.gen_bool(0.4) {
        (rng.gen_range(1..=(price * num / 1000).max(1)) * 100).min(price * num)
    } else {
        0
    };
    let express = pick_weighted(rng, &[(0u64, 75), (500, 15), (1000, 10)], 0);
    let skus = product.map(|p| p.skus).unwrap_or_default();
    let sku_index = rng.gen_range(0..skus.len().max(1));
    let item_id = 20_000_000_000_000
        + stable_hash(0, &[&shop.seed_name(), &product_index.to_string()]) % 9_999_999_999_999;
    let refunds = if life.stage == Stage::ClosedRefunded {
        json!([{"refundId": oid + 100_000_000_000_000, "refundStatus": 22, "refundFee": price * num - discount}])
    } else if life.refund_pending {
        json!([{"refundId": oid + 100_000_000_000_000, "refundStatus": 10, "refundFee": price * num - discount}])
    } else {
        json!([])
    };
    let key = shop.seller_id.to_string();
    let cipher = |field: &str| sealed_field(buyer, &key, field);
    let (mobile, encrypted_mobile, mask) = if rng.gen_bool(0.06) {
        let number = privacy_number(rng, "170");
        let mask = mask_mobile(&number);
        (number, String::new(), mask)
    } else {
        (String::new(), cipher("tel"), mask_mobile(&buyer.mobile))
    };
    let [province, city, district, town] = region_parts(buyer);
    let code = |id: &str| id.parse::<u64>().unwrap_or_default();
    let logistics = life.consign_time.map_or(json!([]), |_| {
        json!([{"expressNo": format!("YT{}", random_string(rng, b"0123456789", 13)), "expressCode": 4, "logisticsId": rng.gen_range(1..9_999_999)}])
    });
    let remark = if rng.gen_bool(0.12) {
        pick_str(rng, BUYER_MESSAGES)
    } else {
        ""
    };
    json!({
        "orderBaseInfo": {
            "oid": oid, "status": status, "payType": if life.pay_time.is_some() { 1 } else { 0 },
            "cpsType": cps_type,
            "buyerOpenId": buyer.hex_open_id, "buyerNick": format!("快手用户***{}", &buyer.hex_open_id[..2]),
            "buyerImage": format!("https://p2.a.yximgs.com/uhead/AB/sim/{}.jpg", &buyer.hex_open_id[..8]),
            "sellerOpenId": shop.open_id, "sellerNick": shop.nick,
            "createTime": created_ms, "payTime": ms(life.pay_time), "updateTime": updated_ms,
            "sendTime": ms(life.consign_time),
            "recvTime": if life.stage == Stage::Finished { ms(life.end_time) } else { 0 },
            "refundTime": if life.stage == Stage::ClosedRefunded { ms(life.end_time) } else { 0 },
            "totalFee": price * num - discount + express, "discountFee": discount, "expressFee": express,
            "remark": remark,
        },
        "orderItemInfo": {
            "itemId": item_id, "itemTitle": product.map(|p| p.title).unwrap_or_default(),
            "itemPicUrl": format!("https://p1.ecukwai.com/ufile/adsocial/sim_{product_index}.jpg"),
            "itemType": 1, "skuId": item_id % 1_000_000_000 * 100 + sku_index as u64 + 1, "relSkuId": 0,
            "skuDesc": skus.get(sku_index).copied().unwrap_or_default(),
            "skuNick": format!("SP{product_index:04}-{:02}", sku_index + 1),
            "num": num, "originalPrice": price, "price": price, "discountFee": discount,
        },
        "orderRefundList": refunds,
        "orderAddress": {
            "consignee": "", "mobile": mobile, "address": "",
            "encryptedConsignee": cipher("name"), "encryptedMobile": encrypted_mobile,
            "encryptedAddress": cipher("addr"),
            "desensitiseConsignee": buyer.masked_name(), "desensitiseMobile": mask,
            "desensitiseAddress": format!("{}****", buyer.detail.chars().take(3).collect::<String>()),
            "province": province.0, "provinceCode": code(&province.1) * 10_000,
            "city": city.0, "cityCode": code(&city.1) * 100,
            "district": district.0, "districtCode": code(&district.1),
            "town": town.0, "townCode": code(&town.1),
        },
        "orderLogisticsInfo": logistics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let shop = KsShop::derive(42, &ShopKey::default_seller("ks-app"));
        let anchor = Utc::now();
        let a = generate(42, &shop, 400, anchor);
        let b = generate(42, &shop, 400, anchor);
        assert_eq!(
            a.orders.iter().map(|o| &o.json).collect::<Vec<_>>(),
            b.orders.iter().map(|o| &o.json).collect::<Vec<_>>()
        );
        let statuses: HashSet<i64> = a.orders.iter().map(|o| o.status).collect();
        for s in [10, 30, 40, 70, 80] {
            assert!(statuses.contains(&s), "status {s} missing: {statuses:?}");
        }
        for o in &a.orders {
            assert_eq!(o.oid.to_string().len(), 16);
            assert!(
                o.created_ms <= anchor.timestamp_millis() + 999 && o.updated_ms >= o.created_ms
            );
            assert_eq!(o.json["orderBaseInfo"]["createTime"], o.created_ms);
        }
        let refunds = a
            .orders
            .iter()
            .filter(|o| !o.json["orderRefundList"].as_array().unwrap().is_empty());
        assert!(refunds.count() > 0);
        let virtual_numbers = a
            .orders
            .iter()
            .filter(|o| o.json["orderAddress"]["encryptedMobile"] == "");
        assert!(virtual_numbers.count() > 0);
    }
}
