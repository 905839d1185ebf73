//! `jingdong.jos.order.oaid.decrypt`: receivers in clear with privacy numbers, permission as a
//! `returnType.code`, the daily quota as the gateway's code 2.

use serde_json::json;

use super::*;
use crate::jd::orders_for;
use crate::reveal::DecryptConfig;
use crate::state::SimConfig;

const DECRYPT: &str = "jingdong.jos.order.oaid.decrypt";
const RESPONSE: &str = "jingdong_jos_order_oaid_decrypt_responce";

fn state_with_decrypt(decrypt: DecryptConfig) -> web::Data<SimState> {
    let mut config = SimConfig::new(42, ORDERS, anchor());
    config.decrypt = decrypt;
    sim_state_with(
        config,
        &[(PlatformType::Jd, APP, SECRET)],
        Faults::default(),
    )
}

/// A signed decrypt call for `(orderId, oaid)` items.
fn decrypt_call(token: &str, items: &[(Value, &str)]) -> Params {
    let infos: Vec<Value> = items
        .iter()
        .map(|(id, oaid)| json!({"orderId": id, "oaid": oaid}))
        .collect();
    let body = json!({"getReceiverInfoListReqVO": {"orderInfos": infos, "scenesType": "x"}});
    let mut p = signed(DECRYPT, token, &[]);
    p.insert("360buy_param_json".into(), body.to_string());
    resign(&mut p, SECRET, SignMethod::Md5);
    p
}

fn return_type(reply: &Reply) -> Value {
    let v = reply.json();
    assert_eq!(v[RESPONSE]["code"], "0", "{v}");
    v[RESPONSE]["returnType"].clone()
}

#[actix_web::test]
async fn opens_receivers_with_privacy_numbers_and_leaves_strangers_out() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let privacy = orders
        .orders
        .iter()
        .find(|o| orders.receivers[&o.oaid].privacy.is_some())
        .unwrap();
    let plain = orders
        .orders
        .iter()
        .find(|o| orders.receivers[&o.oaid].privacy.is_none())
        .unwrap();
    assert_eq!(plain.json["oaid"], plain.oaid, "orders carry their oaid");
    let items = [
        (json!(privacy.order_id), privacy.oaid.as_str()),
        (json!(plain.order_id.to_string()), plain.oaid.as_str()),
        (json!(plain.order_id), privacy.oaid.as_str()),
        (json!(1u64), plain.oaid.as_str()),
    ];
    let rt = return_type(&api(&app, &decrypt_call(&token, &items)).await);
    assert_eq!(rt["code"], 0, "{rt}");
    let data = rt["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "strangers are left out: {rt}");
    let (main, ext) = orders.receivers[&privacy.oaid].privacy.clone().unwrap();
    assert_eq!(data[0]["consMobilePhone"], format!("{main}-{ext}"));
    assert_eq!(data[0]["privacyProtection"], true);
    assert!(!data[0]["expiration"].as_str().unwrap().is_empty());
    assert_eq!(
        data[1]["consMobilePhone"],
        orders.receivers[&plain.oaid].mobile
    );
    assert_eq!(data[1]["orderId"], plain.order_id);
    assert_eq!(state.stats.platform(PlatformType::Jd).decrypted_items, 2);

    let bad = api(&app, &decrypt_call(&token, &[(json!("x"), "y")])).await;
    assert_eq!(return_type(&bad)["code"], 1003);
}

#[actix_web::test]
async fn permission_is_a_business_code_and_a_spent_quota_the_gateways_call_limit() {
    let state = state_with_decrypt(DecryptConfig {
        daily_quota: 1,
        ..DecryptConfig::default()
    });
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let o = &orders.orders[0];
    let items = [(json!(o.order_id), o.oaid.as_str())];
    assert_eq!(
        return_type(&api(&app, &decrypt_call(&token, &items)).await)["code"],
        0
    );
    let spent = api(&app, &decrypt_call(&token, &items)).await.json();
    assert_eq!(spent["error_response"]["code"], "2", "{spent}");
    assert_eq!(spent["error_response"]["en_desc"], "App Call Limited");
    assert!(spent.get(RESPONSE).is_none(), "{spent}");

    let denied = state_with_decrypt(DecryptConfig {
        denied: true,
        ..DecryptConfig::default()
    });
    let app = sim!(denied);
    let token = token_of(&login(&app).await);
    let refused = return_type(&api(&app, &decrypt_call(&token, &items)).await);
    assert_eq!(refused["code"], 1001);
}
