//! One Douyin order as `order.searchList` lists it (field names and order from the Go SDK's
//! `ShopOrderListItem`; amounts in fen, times in unix seconds, `0` when not happened).

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::buyers::{Buyer, mask_mobile, privacy_number};
use super::orders::DyShop;
use crate::shop::{random_string, stable_hash};
use crate::taobao::buyers::pick_str;
use crate::taobao::data::{BUYER_MESSAGES, PRODUCTS, REGIONS};
use crate::taobao::lifecycle::Lifecycle;

/// One sku order of a shop order.
pub struct Item {
    pub product: usize,
    pub sku: usize,
    pub num: u64,
    /// Shop promotion on this line, fen.
    pub promotion: u64,
    pub refunded: bool,
    pub refund_pending: bool,
}

/// Everything one order is built from.
pub struct OrderParts<'a> {
    pub shop: &'a DyShop,
    pub order_id: u64,
    pub buyer: &'a Buyer,
    pub life: &'a Lifecycle,
    pub status: i64,
    pub items: &'a [Item],
    pub created: DateTime<Utc>,
    pub post_amount: u64,
    /// The seller's price change (改价), fen, ≤ 0.
    pub modify_amount: i64,
    pub privacy_number: bool,
}

pub fn status_desc(status: i64) -> &'static str {
    match status {
        1 => "待支付",
        105 => "已支付",
        2 => "备货中",
        101 => "部分发货",
        3 => "已发货",
        4 => "已取消",
        5 => "已完成",
        _ => "未知",
    }
}

/// Province codes of the regions the generator uses (national division codes).
pub fn province_code(name: &str) -> u64 {
    match name {
        "浙江省" => 33,
        "上海" => 31,
        "北京" => 11,
        "广东省" => 44,
        "江苏省" => 32,
        "四川省" => 51,
        "湖北省" => 42,
        "河南省" => 41,
        "山东省" => 37,
        "福建省" => 35,
        "陕西省" => 61,
        "重庆" => 50,
        _ => 99,
    }
}

/// Province, city, district and town with codes: `[(name, id)]`.
pub fn region_parts(buyer: &Buyer) -> [(String, String); 4] {
    let r = REGIONS.get(buyer.region);
    let state = r.map(|r| r.state).unwrap_or_default();
    let province = if state.ends_with('省') {
        state.to_owned()
    } else {
        format!("{state}市")
    };
    let city = r.map(|r| r.city).unwrap_or_default();
    let district = r.map(|r| r.district).unwrap_or_default();
    let h = |s: &str, m: u64| stable_hash(0, &[s]) % m + 1;
    let p = province_code(state);
    let c = p * 100 + h(city, 19);
    let d = c * 100 + h(district, 29);
    let t = d * 1000 + h(buyer.town, 199);
    [
        (province, p.to_string()),
        (city.to_owned(), c.to_string()),
        (district.to_owned(), d.to_string()),
        (buyer.town.to_owned(), t.to_string()),
    ]
}

/// The buyer's `encrypt_post_tel` in the shop `shop_key` (`$index$body$1$$`).
pub fn tel_cipher(b: &Buyer, shop_key: &str) -> String {
    format!(
        "${}${}$1$$",
        b.cipher("tel-index", shop_key, 12),
        b.cipher("tel", shop_key, 52)
    )
}

/// The buyer's `encrypt_post_receiver` (`#index#body#1##`).
pub fn name_cipher(b: &Buyer, shop_key: &str) -> String {
    format!(
        "#{}#{}#1##",
        b.cipher("name-index", shop_key, 8),
        b.cipher("name", shop_key, 44)
    )
}

/// The buyer's `post_addr.encrypt_detail` (`#index#body#1##`).
pub fn addr_cipher(b: &Buyer, shop_key: &str) -> String {
    format!(
        "#{}#{}#1##",
        b.cipher("addr-index", shop_key, 16),
        b.cipher("addr", shop_key, 88)
    )
}

fn secs(t: Option<DateTime<Utc>>) -> i64 {
    t.map_or(0, |t| t.timestamp())
}

/// `颜色分类:杏色;尺码:S` → `[{"name":"颜色分类","value":"杏色"}, …]`.
fn spec(text: &str) -> Value {
    Value::Array(
        text.split(';')
            .filter_map(|p| p.split_once(':'))
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect(),
    )
}

fn address(parts: &[(String, String); 4], with_ids: bool) -> Value {
    let keys = ["province", "city", "town", "street"];
    let mut map = Map::new();
    for (key, (name, id)) in keys.iter().zip(parts) {
        let v = if with_ids {
            json!({"name": name, "id": id})
        } else {
            json!({"name": name})
        };
        map.insert((*key).to_owned(), v);
    }
    Value::Object(map)
}

/// The full `shop_order_list` entry.
pub fn order_json(rng: &mut ChaCha8Rng, p: &OrderParts<'_>) -> Map<String, Value> {
    let shop_key = p.shop.shop_id.to_string();
    let b = p.buyer;
    let life = p.life;
    let sums: Vec<u64> = p
        .items
        .iter()
        .map(|i| PRODUCTS.get(i.product).map_or(0, |x| x.price_fen) * i.num)
        .collect();
    let promotion: u64 = p.items.iter().map(|i| i.promotion).sum();
    let order_amount = sums.iter().sum::<u64>() + p.post_amount;
    let pay_amount =
        (i64::try_from(order_amount - promotion).unwrap_or(0) + p.modify_amount).max(1);
    let status = p.status;
    let skus: Vec<Value> = p
        .items
        .iter()
        .zip(&sums)
        .enumerate()
        .map(|(k, (item, sum))| {
            let product = PRODUCTS.get(item.product);
            let skus = product.map(|x| x.skus).unwrap_or_default();
            let sku_index = item.sku % skus.len().max(1);
            let product_id = 3_600_000_000_000_000_000u64
                + stable_hash(0, &[&shop_key, &item.product.to_string()]) % 99_999_999_999;
            let (after_sale, refund) = if item.refunded {
                (12, 3)
            } else if item.refund_pending {
                (6, 1)
            } else {
                (0, 0)
            };
            json!({
                "order_id": (p.order_id + k as u64 + 1).to_string(),
                "parent_order_id": p.order_id.to_string(),
                "order_level": 3,
                "biz": 2, "biz_desc": "小店",
                "order_type": 0, "order_type_desc": "普通订单",
                "trade_type": 0, "trade_type_desc": "普通",
                "order_status": if item.refunded { 4 } else { status },
                "order_status_desc": status_desc(if item.refunded { 4 } else { status }),
                "pay_time": secs(life.pay_time),
                "finish_time": secs(life.end_time),
                "create_time": p.created.timestamp(),
                "update_time": life.modified.timestamp(),
                "product_id": product_id,
                "product_id_str": product_id.to_string(),
                "sku_id": product_id % 10_000_000_000 * 100 + sku_index as u64 + 1,
                "spec": spec(skus.get(sku_index).copied().unwrap_or_default()),
                "code": format!("SP{:04}-{:02}", item.product, sku_index + 1),
                "out_sku_id": "",
                "product_name": product.map(|x| x.title).unwrap_or_default(),
                "product_pic": format!("https://p3-aio.ecombdimg.com/obj/ecom-shop-material/sim_{}.jpeg", item.product),
                "item_num": item.num,
                "origin_amount": product.map_or(0, |x| x.price_fen),
                "sum_amount": sum,
                "pay_amount": sum - item.promotion,
                "post_amount": 0,
                "goods_type": 0,
                "after_sale_info": {"after_sale_status": after_sale, "after_sale_type": if after_sale > 0 { 2 } else { 0 }, "refund_status": refund},
                "c_biz": 8, "c_biz_desc": "小店自卖",
            })
        })
        .collect();
    let region = region_parts(b);
    let (post_tel, encrypt_post_tel, mask_post_tel) = if p.privacy_number {
        let number = privacy_number(rng, "184");
        let mask = mask_mobile(&number);
        (number, String::new(), mask)
    } else {
        let tel = tel_cipher(b, &shop_key);
        let first = b.mobile.get(..1).unwrap_or("1");
        let last = b.mobile.get(10..).unwrap_or("0");
        (String::new(), tel, format!("{first}*********{last}"))
    };
    let mut post_addr = address(&region, true);
    post_addr["detail"] = json!("");
    post_addr["encrypt_detail"] = json!(addr_cipher(b, &shop_key));
    let mut mask_addr = address(&region, false);
    mask_addr["detail"] = json!("***");
    let shipped = life.consign_time;
    let logistics = shipped.map_or(json!([]), |t| {
        json!([{"tracking_no": format!("7531{}", random_string(rng, b"0123456789", 10)),
            "company": "zhongtong", "company_name": "中通快递", "ship_time": t.timestamp(),
            "delivery_id": random_string(rng, b"0123456789", 16), "product_info": []}])
    });
    let cancel_reason = match (status, life.pay_time) {
        (4, None) => pick_str(rng, &["买家取消订单", "超时未支付"]),
        (4, Some(_)) => "买家申请全额退款",
        _ => "",
    };
    let words = if rng.gen_bool(0.12) {
        pick_str(rng, BUYER_MESSAGES)
    } else {
        ""
    };
    let paid = life.pay_time.is_some();
    let v = json!({
        "shop_id": p.shop.shop_id, "shop_name": p.shop.shop_name, "open_id": "",
        "order_id": p.order_id.to_string(), "order_level": 2,
        "biz": 2, "biz_desc": "小店", "order_type": 0, "order_type_desc": "普通订单",
        "trade_type": 0, "trade_type_desc": "普通",
        "order_status": status, "order_status_desc": status_desc(status),
        "pay_time": secs(life.pay_time),
        "order_expire_time": if paid { 0 } else { 1800 },
        "finish_time": secs(life.end_time),
        "create_time": p.created.timestamp(),
        "update_time": life.modified.timestamp(),
        "cancel_reason": cancel_reason,
        "buyer_words": words, "seller_words": "",
        "b_type": 2, "b_type_desc": "抖音", "sub_b_type": 1, "sub_b_type_desc": "app内-原生",
        "app_id": 0,
        "pay_type": if paid { rng.gen_range(1..=2) } else { 0 },
        "channel_payment_no": if paid { format!("42000{}", random_string(rng, b"0123456789", 23)) } else { String::new() },
        "order_amount": order_amount, "pay_amount": pay_amount,
        "post_amount": p.post_amount, "post_insurance_amount": 0,
        "modify_amount": p.modify_amount, "modify_post_amount": 0,
        "promotion_amount": promotion, "promotion_shop_amount": promotion,
        "promotion_platform_amount": 0, "shop_cost_amount": promotion, "platform_cost_amount": 0,
        "promotion_talent_amount": 0, "promotion_pay_amount": 0,
        "post_tel": post_tel, "encrypt_post_tel": encrypt_post_tel,
        "post_receiver": "",
        "encrypt_post_receiver": name_cipher(b, &shop_key),
        "post_addr": post_addr,
        "exp_ship_time": life.pay_time.map_or(0, |t| t.timestamp() + 48 * 3600),
        "ship_time": secs(shipped),
        "logistics_info": logistics,
        "sku_order_list": skus,
        "seller_remark_stars": 0,
        "order_phase_list": [],
        "doudian_open_id": b.open_id,
        "serial_number_list": [],
        "promotion_redpack_amount": 0, "promotion_redpack_platform_amount": 0,
        "promotion_redpack_talent_amount": 0,
        "user_tag_ui": [],
        "mask_post_receiver": b.masked_name(),
        "mask_post_tel": mask_post_tel,
        "mask_post_addr": mask_addr,
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
