//! `open.order.decrypt.batch`: phones in clear, privacy numbers with expiry, per-item errors,
//! permission and the daily quota.

use super::*;
use crate::kuaishou::orders::KsOrder;
use crate::kuaishou::orders_for;
use crate::reveal::DecryptConfig;
use crate::state::SimConfig;

const DECRYPT: &str = "open.order.decrypt.batch";

fn state_with_decrypt(decrypt: DecryptConfig) -> web::Data<SimState> {
    let mut config = SimConfig::new(42, ORDERS, anchor());
    config.decrypt = decrypt;
    let both = format!("{APP_SECRET}:{SIGN_SECRET}");
    sim_state_with(
        config,
        &[(PlatformType::Kuaishou, APP, &both)],
        Faults::default(),
    )
}

fn tel(o: &KsOrder) -> Value {
    json!({"bizId": o.oid.to_string(), "encryptedData": o.json["orderAddress"]["encryptedMobile"]})
}

fn encrypted(o: &&KsOrder) -> bool {
    o.json["orderAddress"]["encryptedMobile"] != ""
}

/// POSTs `p` as a form, as the SDKs call this API.
async fn post(app: &impl TestApp, p: &Params) -> Reply {
    post_params(app, &format!("/kuaishou/{}", method_path(p)), p).await
}

#[actix_web::test]
async fn opens_the_orders_phones_and_hands_out_privacy_numbers() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let protected = |o: &&KsOrder| orders.receivers[o.buyer].privacy.is_some();
    let privacy = orders
        .orders
        .iter()
        .filter(encrypted)
        .find(protected)
        .unwrap();
    let plain = orders
        .orders
        .iter()
        .filter(encrypted)
        .find(|o| !protected(o) && o.buyer != privacy.buyer)
        .unwrap();
    let list = json!([
        tel(privacy),
        tel(plain),
        {"bizId": plain.oid.to_string(), "encryptedData": privacy.json["orderAddress"]["encryptedMobile"]},
        {"bizId": "1", "encryptedData": plain.json["orderAddress"]["encryptedMobile"]},
        {"bizId": plain.oid, "encryptedData": "bm90IG91cnM=="},
    ]);
    let reply = post(
        &app,
        &signed(DECRYPT, &token, &json!({"batchDecryptList": list})),
    )
    .await;
    assert_eq!(result_of(&reply), 1, "{}", reply.body);
    let v = reply.json();
    let out = v["data"]["decryptResult"].as_array().unwrap();
    let (main, ext) = orders.receivers[privacy.buyer].privacy.clone().unwrap();
    assert_eq!(out[0]["decryptedData"], format!("{main}-{ext}"));
    assert!(out[0]["expireTime"].as_i64().unwrap() > Utc::now().timestamp_millis());
    let mobile = out[1]["decryptedData"].as_str().unwrap();
    assert_eq!(mobile, orders.receivers[plain.buyer].mobile);
    assert_eq!(
        plain.json["orderAddress"]["desensitiseMobile"],
        format!("{}****{}", &mobile[..3], &mobile[7..])
    );
    let errs: Vec<u64> = out[2..]
        .iter()
        .map(|i| i["errorCode"].as_u64().unwrap())
        .collect();
    assert_eq!(errs, [1001, 1002, 1003]);
    assert_eq!(
        state.stats.platform(PlatformType::Kuaishou).decrypted_items,
        2
    );

    let empty = signed(DECRYPT, &token, &json!({"batchDecryptList": []}));
    assert_eq!(result_of(&post(&app, &empty).await), 2001);
}

#[actix_web::test]
async fn permission_and_the_daily_quota_are_refused_before_the_items() {
    let state = state_with_decrypt(DecryptConfig {
        daily_quota: 1,
        ..DecryptConfig::default()
    });
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let o = orders.orders.iter().find(encrypted).unwrap();
    let one = || signed(DECRYPT, &token, &json!({"batchDecryptList": [tel(o)]}));
    assert_eq!(result_of(&post(&app, &one()).await), 1);
    assert_eq!(result_of(&post(&app, &one()).await), 2002);

    let denied = state_with_decrypt(DecryptConfig {
        denied: true,
        ..DecryptConfig::default()
    });
    let app = sim!(denied);
    let token = token_of(&login(&app).await);
    let p = signed(DECRYPT, &token, &json!({"batchDecryptList": [tel(o)]}));
    assert_eq!(result_of(&post(&app, &p).await), 28);
}
