//! `pdd.open.decrypt.batch`: privacy-number fields, ciphertexts of another order, permission and
//! the daily quota.

use serde_json::json;

use super::*;
use crate::pdd::orders::PddOrder;
use crate::pdd::orders_for;
use crate::reveal::DecryptConfig;
use crate::state::SimConfig;

const DECRYPT: &str = "pdd.open.decrypt.batch";

fn state_with_decrypt(decrypt: DecryptConfig) -> web::Data<SimState> {
    let mut config = SimConfig::new(42, ORDERS, anchor());
    config.decrypt = decrypt;
    sim_state_with(
        config,
        &[(PlatformType::Pdd, APP, SECRET)],
        Faults::default(),
    )
}

fn phone_item(o: &PddOrder) -> Value {
    json!({"data_tag": o.order_sn, "encrypted_data": o.json["receiver_phone"]})
}

#[actix_web::test]
async fn privacy_numbers_carry_their_extension_and_ciphertexts_belong_to_their_order() {
    let state = state();
    let app = sim!(state);
    let token = login(&app).await;
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let person = |o: &&PddOrder| &orders.people[o.buyer];
    let privacy = orders
        .orders
        .iter()
        .find(|o| person(o).privacy.is_some())
        .unwrap();
    let plain = orders
        .orders
        .iter()
        .find(|o| person(o).privacy.is_none() && person(o).mobile != person(&privacy).mobile)
        .unwrap();
    let list = json!([
        phone_item(privacy),
        phone_item(plain),
        {"data_tag": plain.order_sn, "encrypted_data": privacy.json["receiver_phone"]},
    ])
    .to_string();
    let v = api(&app, &signed(DECRYPT, &token, &[("data_list", &list)]))
        .await
        .json();
    let out = v["open_decrypt_batch_response"]["data_decrypt_list"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let (main, ext) = person(&privacy).privacy.clone().unwrap();
    assert_eq!(out[0]["decrypted_data"], format!("${main}$#{ext}#"));
    assert_eq!(
        (
            out[0]["virtual_number_type"].as_u64(),
            out[0]["virtual_identify_number"].as_str()
        ),
        (Some(1), Some(ext.as_str()))
    );
    assert_eq!(out[1]["decrypted_data"], person(&plain).mobile);
    assert_eq!(out[1]["virtual_number_type"], 0);
    assert_eq!(out[2]["error_code"], 102, "another order's ciphertext");
    assert_eq!(state.stats.platform(PlatformType::Pdd).decrypted_items, 2);
}

#[actix_web::test]
async fn permission_and_the_daily_quota_are_refused_before_the_items() {
    let state = state_with_decrypt(DecryptConfig {
        daily_quota: 2,
        ..DecryptConfig::default()
    });
    let app = sim!(state);
    let token = login(&app).await;
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let one = json!([phone_item(&orders.orders[0])]).to_string();
    let two = json!([phone_item(&orders.orders[0]), phone_item(&orders.orders[1])]).to_string();
    let call = |list: &str| signed(DECRYPT, &token, &[("data_list", list)]);
    assert!(api(&app, &call(&one)).await.json()["open_decrypt_batch_response"].is_object());
    assert_eq!(
        error_code(&api(&app, &call(&two)).await),
        70032,
        "would pass the quota"
    );
    assert!(api(&app, &call(&one)).await.json()["open_decrypt_batch_response"].is_object());
    assert_eq!(error_code(&api(&app, &call(&one)).await), 70032);

    let denied = state_with_decrypt(DecryptConfig {
        denied: true,
        ..DecryptConfig::default()
    });
    let app = sim!(denied);
    let token = login(&app).await;
    let reply = api(&app, &signed(DECRYPT, &token, &[("data_list", &one)])).await;
    assert_eq!(error_code(&reply), 10003);
}
