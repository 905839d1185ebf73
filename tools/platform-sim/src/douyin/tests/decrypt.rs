//! `order.batchDecrypt`: phones, names and addresses in clear, privacy numbers with expiry,
//! per-item errors, permission and the daily quota.

use super::*;
use crate::douyin::orders::DyOrder;
use crate::douyin::orders_for;
use crate::reveal::DecryptConfig;
use crate::state::SimConfig;

const DECRYPT: &str = "order.batchDecrypt";

fn state_with_decrypt(decrypt: DecryptConfig) -> web::Data<SimState> {
    let mut config = SimConfig::new(42, ORDERS, anchor());
    config.decrypt = decrypt;
    sim_state_with(
        config,
        &[(PlatformType::Douyin, APP, SECRET)],
        Faults::default(),
    )
}

fn tel(o: &DyOrder) -> Value {
    json!({"auth_id": o.order_id.to_string(), "cipher_text": o.json["encrypt_post_tel"]})
}

fn encrypted(o: &&DyOrder) -> bool {
    o.json["encrypt_post_tel"] != ""
}

#[actix_web::test]
async fn opens_the_orders_ciphertexts_and_hands_out_privacy_numbers() {
    let state = state();
    let app = sim!(state);
    let token = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let protected = |o: &&DyOrder| orders.receivers[o.buyer].privacy.is_some();
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
    let infos = json!([
        tel(privacy),
        tel(plain),
        {"auth_id": plain.order_id.to_string(), "cipher_text": plain.json["encrypt_post_receiver"]},
        {"auth_id": plain.order_id.to_string(), "cipher_text": privacy.json["encrypt_post_tel"]},
        {"auth_id": "6900000000000000000", "cipher_text": plain.json["encrypt_post_tel"]},
        {"auth_id": plain.order_id.to_string(), "cipher_text": "$bm90$b3Vycw==$1$$"},
    ]);
    let reply = api(
        &app,
        &call(
            DECRYPT,
            Some(&token),
            json!({"cipher_infos": infos, "account_id": "u-1", "account_type": "sub_account"}),
        ),
    )
    .await;
    // Three of the items fail (below): the answer is 10001 "partial failure", items and all.
    assert_eq!(code_of(&reply).0, 10001, "{}", reply.body);
    let v = reply.json();
    let out = v["data"]["decrypt_infos"].as_array().unwrap();
    let (main, ext) = orders.receivers[privacy.buyer].privacy.clone().unwrap();
    assert_eq!(
        (
            &out[0]["is_virtual_tel"],
            &out[0]["phone_no_a"],
            &out[0]["phone_no_b"]
        ),
        (&json!(true), &json!(main), &json!(ext))
    );
    assert_eq!(out[0]["decrypt_text"], format!("{main}-{ext}"));
    assert!(out[0]["expire_time"].as_i64().unwrap() > Utc::now().timestamp());
    let mobile = out[1]["decrypt_text"].as_str().unwrap();
    assert_eq!(mobile, orders.receivers[plain.buyer].mobile);
    let mask = plain.json["mask_post_tel"].as_str().unwrap();
    assert_eq!((&mobile[..1], &mobile[10..]), (&mask[..1], &mask[10..]));
    assert_eq!(
        (
            out[1]["data_type"].as_u64(),
            out[1]["is_virtual_tel"].as_bool()
        ),
        (Some(3), Some(false))
    );
    assert_eq!(out[2]["decrypt_text"], orders.receivers[plain.buyer].name);
    assert_eq!(out[2]["data_type"], 2);
    let errs: Vec<u64> = out[3..]
        .iter()
        .map(|i| i["err_no"].as_u64().unwrap())
        .collect();
    assert_eq!(errs, [300001, 300002, 300003]);
    assert_eq!(v["data"]["custom_err"]["err_code"], 0);
    assert_eq!(
        state.stats.platform(PlatformType::Douyin).decrypted_items,
        3
    );

    let bad = call(
        DECRYPT,
        Some(&token),
        json!({"cipher_infos": [tel(plain)], "account_type": "boss"}),
    );
    assert_eq!(code_of(&api(&app, &bad).await).0, 40003);
    let none = call(DECRYPT, Some(&token), json!({"cipher_infos": []}));
    assert_eq!(code_of(&api(&app, &none).await).0, 40003);
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
    let one = || call(DECRYPT, Some(&token), json!({"cipher_infos": [tel(o)]}));
    assert_eq!(code_of(&api(&app, &one()).await).0, 10000);
    assert_eq!(
        code_of(&api(&app, &one()).await),
        (
            50002,
            "isv.business-failed:decrypt-quota-exceeded".to_owned()
        )
    );

    let denied = state_with_decrypt(DecryptConfig {
        denied: true,
        ..DecryptConfig::default()
    });
    let app = sim!(denied);
    let token = token_of(&login(&app).await);
    let c = call(DECRYPT, Some(&token), json!({"cipher_infos": [tel(o)]}));
    assert_eq!(
        code_of(&api(&app, &c).await),
        (30001, "isv.app-permissions-insufficient".to_owned())
    );
}
