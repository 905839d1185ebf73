//! A Douyin shop's generated orders, deterministic from the seed, the shop (app key and seller)
//! and the anchor.
//!
//! Each order is kept as the full `shop_order_list` JSON object (fields in the Go SDK's order,
//! contact data as ciphertext + mask) plus the typed values the API filters and sorts on.
//! Status mix: unpaid (1), paid (105/2), partly and fully shipped (101/3), finished (5),
//! cancelled before and after payment (4, refunds as `after_sale_info`), pending refunds,
//! price-modified orders (`modify_amount`), repeat buyers, privacy numbers, live-stream peaks.
//! Which buyer places each order, and when, comes from [`crate::behaviour`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use leadgen_domain::PlatformType;

use super::buyers::{Buyer, Field, Receiver, Sealed, creation_time, new_buyer};
use super::order_json::{Item, OrderParts, addr_cipher, name_cipher, order_json, tel_cipher};
use crate::behaviour::{self, BuyerTruth};
use crate::shop::{Shop, ShopKey, seed_name, seeded_rng};
use crate::taobao::data::PRODUCTS;
use crate::taobao::lifecycle::{Stage, pick_weighted, play};
use crate::taobao::orders::HISTORY_DAYS;

/// One generated order.
#[derive(Debug, Clone)]
pub struct DyOrder {
    pub order_id: u64,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub status: i64,
    /// Index of the buyer in [`ShopOrders::buyers`].
    pub buyer: usize,
    pub json: Map<String, Value>,
}

/// The shop of an app key and a seller, as Douyin shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DyShop {
    pub app_key: String,
    /// The login name that consented.
    pub seller: String,
    /// `shop_id`: eight digits.
    pub shop_id: u64,
    pub shop_name: String,
}

impl DyShop {
    pub fn derive(seed: u64, key: &ShopKey) -> DyShop {
        let shop = Shop::derive(seed, PlatformType::Douyin, key);
        DyShop {
            app_key: shop.app_key,
            seller: shop.seller,
            shop_id: 10_000_000 + shop.user_id % 90_000_000,
            shop_name: shop.nick,
        }
    }

    /// [`ShopKey::seed_name`] of this shop: what seeds its orders.
    pub fn seed_name(&self) -> Cow<'_, str> {
        seed_name(&self.app_key, &self.seller)
    }
}

/// A shop and its orders, sorted by `create_time` ascending, then `order_id` ascending.
#[derive(Debug, Clone)]
pub struct ShopOrders {
    pub shop: DyShop,
    pub orders: Vec<DyOrder>,
    /// The buyers' true purchase rates and rhythms ([`behaviour`]).
    pub buyers: Vec<BuyerTruth>,
    /// Each buyer's receiver in clear, by buyer index (for `order.batchDecrypt`).
    pub receivers: Vec<Receiver>,
    /// What each ciphertext the shop's orders carry opens to.
    pub ciphers: HashMap<String, Sealed>,
}

/// Privacy numbers Douyin hands out start with 184 (README §4.3's example).
pub const PRIVACY_PREFIX: &str = "184";

/// The receivers in clear and the ciphertexts of `buyers` in the shop `shop_key`.
pub fn sealed_receivers(
    buyers: &[Buyer],
    shop_key: &str,
    prefix: &str,
    ciphers_of: impl Fn(&Buyer, &str) -> [(String, Field); 3],
) -> (Vec<Receiver>, HashMap<String, Sealed>) {
    let mut ciphers = HashMap::new();
    for (index, b) in buyers.iter().enumerate() {
        for (cipher, field) in ciphers_of(b, shop_key) {
            ciphers.insert(
                cipher,
                Sealed {
                    buyer: index,
                    field,
                },
            );
        }
    }
    (buyers.iter().map(|b| b.receiver(prefix)).collect(), ciphers)
}

/// How long an unpaid order waits for payment before the platform cancels it
/// (`order_expire_time`).
const UNPAID_EXPIRY_SECS: i64 = 1800;

/// Douyin's status for a played-out lifecycle.
fn status_code(rng: &mut ChaCha8Rng, stage: Stage, items: usize, minutes: (i64, i64)) -> i64 {
    let (created_minutes_ago, paid_minutes_ago) = minutes;
    match stage {
        // Unpaid orders are cancelled after 30 minutes (`order_expire_time` 1800).
        Stage::WaitPay if created_minutes_ago >= UNPAID_EXPIRY_SECS / 60 => 4,
        Stage::WaitPay => 1,
        Stage::WaitSend if paid_minutes_ago < 30 || rng.gen_bool(0.03) => 105,
        Stage::WaitSend => 2,
        Stage::WaitConfirm if items > 1 && rng.gen_bool(0.4) => 101,
        Stage::WaitConfirm => 3,
        Stage::Finished => 5,
        Stage::ClosedUnpaid | Stage::ClosedRefunded | Stage::ClosedByTaobao => 4,
    }
}

/// Generates `count` orders for `shop` in the [`HISTORY_DAYS`] days before `anchor`.
pub fn generate(seed: u64, shop: &DyShop, count: usize, anchor: DateTime<Utc>) -> ShopOrders {
    generate_over(seed, shop, count, anchor, HISTORY_DAYS)
}

/// Generates `count` orders for `shop` in the `history_days` days before `anchor` (the server
/// serves [`HISTORY_DAYS`]; `platform-sim dataset --history-days` may export a longer history).
pub fn generate_over(
    seed: u64,
    shop: &DyShop,
    count: usize,
    anchor: DateTime<Utc>,
    history_days: i64,
) -> ShopOrders {
    let mut rng = seeded_rng(seed, &["DOUYIN", "orders", &shop.seed_name()]);
    let anchor = anchor - Duration::nanoseconds(i64::from(anchor.timestamp_subsec_nanos()));
    let mut used = HashSet::new();
    // Who buys when ([`behaviour`]), at the live sessions' and last minutes' peaks; cart
    // checkouts come from the plan, not from `creation_time`.
    let plan = behaviour::plan(&mut rng, count, history_days, |rng| {
        creation_time(rng, anchor, history_days, None)
    });
    let buyers: Vec<Buyer> = plan.buyers.iter().map(|_| new_buyer(&mut rng)).collect();
    let mut orders = Vec::with_capacity(count);
    for planned in &plan.orders {
        let order_id = loop {
            // Shop order ids are 19 digits; sku orders follow their parent (+1, +2, …).
            let id = rng.gen_range(6_900_000_000_000_000_000u64..6_999_999_999_999_999_000);
            if (0..4).all(|k| !used.contains(&(id + k))) {
                (0..4).for_each(|k| {
                    used.insert(id + k);
                });
                break id;
            }
        };
        let created = planned.at;
        let Some(buyer) = buyers.get(planned.buyer) else {
            continue;
        };
        let life = play(&mut rng, created, anchor);
        let n_items = pick_weighted(&mut rng, &[(1usize, 72), (2, 20), (3, 8)], 1);
        let items: Vec<Item> = (0..n_items)
            .map(|k| {
                let product = rng.gen_range(0..PRODUCTS.len());
                let price = PRODUCTS.get(product).map_or(0, |p| p.price_fen);
                let num = pick_weighted(&mut rng, &[(1u64, 80), (2, 15), (3, 5)], 1);
                let promotion = if rng.gen_bool(0.45) {
                    (rng.gen_range(1..=(price * num / 1000).max(1)) * 100).min(price * num)
                } else {
                    0
                };
                let refunded = life.stage == Stage::ClosedRefunded
                    || (life.stage == Stage::Finished
                        && k > 0
                        && k + 1 == n_items
                        && rng.gen_bool(0.25));
                Item {
                    product,
                    sku: rng.gen_range(0..8),
                    num,
                    promotion,
                    refunded,
                    refund_pending: life.refund_pending && k == 0,
                }
            })
            .collect();
        let paid_minutes_ago = life
            .pay_time
            .map_or(i64::MAX, |p| (anchor - p).num_minutes());
        let minutes = ((anchor - created).num_minutes(), paid_minutes_ago);
        let status = status_code(&mut rng, life.stage, n_items, minutes);
        // The platform cancelled it unpaid at its expiry: a change, so `update_time` moves
        // there (a by-modification listing must see the cancellation).
        let mut life = life;
        if life.stage == Stage::WaitPay && status == 4 {
            life.modified = life
                .modified
                .max(created + Duration::seconds(UNPAID_EXPIRY_SECS));
        }
        let parts = OrderParts {
            shop,
            order_id,
            buyer,
            life: &life,
            status,
            items: &items,
            created,
            post_amount: pick_weighted(
                &mut rng,
                &[(0u64, 75), (600, 10), (1000, 10), (1500, 5)],
                0,
            ),
            // The seller lowered the price before payment (改价); it stays on the order.
            modify_amount: if rng.gen_bool(0.08) {
                -(rng.gen_range(1..20) * 100)
            } else {
                0
            },
            privacy_number: rng.gen_bool(0.06),
        };
        let json = order_json(&mut rng, &parts);
        orders.push(DyOrder {
            order_id,
            created,
            updated: life.modified,
            status,
            buyer: planned.buyer,
            json,
        });
    }
    orders.sort_by(|a, b| a.created.cmp(&b.created).then(a.order_id.cmp(&b.order_id)));
    let (receivers, ciphers) = sealed_receivers(
        &buyers,
        &shop.shop_id.to_string(),
        PRIVACY_PREFIX,
        |b, key| {
            [
                (tel_cipher(b, key), Field::Phone),
                (name_cipher(b, key), Field::Name),
                (addr_cipher(b, key), Field::Address),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let shop = DyShop::derive(42, &ShopKey::default_seller("app"));
        let anchor = Utc::now();
        let a = generate(42, &shop, 400, anchor);
        let b = generate(42, &shop, 400, anchor);
        let ja: Vec<_> = a.orders.iter().map(|o| &o.json).collect();
        let jb: Vec<_> = b.orders.iter().map(|o| &o.json).collect();
        assert_eq!(ja, jb);
        assert_ne!(
            generate(43, &shop, 400, anchor).orders[0].order_id,
            a.orders[0].order_id
        );
        let ids: HashSet<u64> = a.orders.iter().map(|o| o.order_id).collect();
        assert_eq!(ids.len(), 400);
        let statuses: HashSet<i64> = a.orders.iter().map(|o| o.status).collect();
        for s in [1, 2, 3, 4, 5] {
            assert!(statuses.contains(&s), "status {s} missing: {statuses:?}");
        }
        for o in &a.orders {
            assert_eq!(o.order_id.to_string().len(), 19);
            assert!(o.created <= anchor && o.updated >= o.created);
            assert_eq!(o.json["order_id"], o.order_id.to_string());
            assert_eq!(o.json["update_time"], o.updated.timestamp());
        }
        // An order cancelled unpaid at its expiry was changed then: a by-modification listing
        // sees the cancellation.
        let expired: Vec<_> = a
            .orders
            .iter()
            .filter(|o| o.status == 4 && o.json["pay_time"].as_i64().unwrap_or(0) == 0)
            .collect();
        assert!(!expired.is_empty());
        for o in expired {
            assert!(
                o.updated >= o.created + Duration::seconds(UNPAID_EXPIRY_SECS),
                "order {}",
                o.order_id
            );
        }
        let text = serde_json::to_string(&ja).unwrap();
        assert!(text.contains("\"after_sale_status\":12"), "refunds");
        assert!(text.contains("-"), "privacy numbers");
        let buyers: HashSet<&str> = a
            .orders
            .iter()
            .map(|o| o.json["doudian_open_id"].as_str().unwrap())
            .collect();
        assert!(buyers.len() < 400, "repeat buyers");
    }
}
