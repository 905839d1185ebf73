//! `taobao.top.oaid.decrypt`: receivers in clear with privacy numbers, scenes, permission and the
//! daily quota.

use serde_json::json;

use super::*;
use crate::reveal::DecryptConfig;
use crate::state::SimConfig;
use crate::taobao::orders::TradeRecord;
use crate::taobao::orders_for;

const DECRYPT: &str = "taobao.top.oaid.decrypt";

fn state_with_decrypt(decrypt: DecryptConfig) -> web::Data<SimState> {
    let mut config = SimConfig::new(42, ORDERS, anchor());
    config.decrypt = decrypt;
    sim_state_with(
        config,
        &[(PlatformType::Taobao, APP, SECRET)],
        Faults::default(),
    )
}

fn query(items: &[(&str, String, &str)]) -> String {
    let list: Vec<Value> = items
        .iter()
        .map(|(oaid, tid, scene)| json!({"oaid": oaid, "tid": tid, "scene": scene}))
        .collect();
    Value::Array(list).to_string()
}

fn sub_code(reply: &Reply) -> String {
    reply.json()["error_response"]["sub_code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn opens_receivers_with_privacy_numbers_and_leaves_strangers_out() {
    let state = state();
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let protected = |t: &&TradeRecord| orders.receivers[&t.oaid].privacy.is_some();
    let privacy = orders.trades.iter().find(protected).unwrap();
    let plain = orders.trades.iter().find(|t| !protected(t)).unwrap();
    let other = orders.trades.iter().find(|t| t.oaid != plain.oaid).unwrap();
    let list = query(&[
        (&privacy.oaid, privacy.tid.to_string(), "2001"),
        (&plain.oaid, plain.tid.to_string(), "2002"),
        (&other.oaid, plain.tid.to_string(), "1006"),
        ("not-an-oaid", plain.tid.to_string(), "1006"),
        (&plain.oaid, "1".to_owned(), "1006"),
    ]);
    let v = api(&app, &signed(DECRYPT, &session, &[("query_list", &list)]))
        .await
        .json();
    let found = v["top_oaid_decrypt_response"]["receiver_list"]["receiver"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(found.len(), 3, "strangers are left out: {v}");

    let (main, ext) = orders.receivers[&privacy.oaid].privacy.clone().unwrap();
    assert_eq!(found[0]["mobile"], format!("{main}-{ext}"));
    assert_eq!(found[0]["privacy_protection"], true);
    assert!(found[0]["secret_no_expire_time"].is_string());

    let mobile = found[1]["mobile"].as_str().unwrap();
    assert_eq!(mobile, orders.receivers[&plain.oaid].mobile);
    let masked = plain.json["receiver_mobile"].as_str().unwrap();
    assert_eq!(
        &mobile[7..],
        &masked[7..],
        "the mask shows the real last four"
    );
    assert_eq!(
        (
            found[1]["matched"].as_bool(),
            found[1]["privacy_protection"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let name = found[1]["name"].as_str().unwrap();
    let masked_name = plain.json["receiver_name"].as_str().unwrap();
    assert_eq!(name.chars().count(), masked_name.chars().count());
    assert_eq!(found[2]["matched"], false, "another trade's receiver");
    assert_eq!(
        state.stats.platform(PlatformType::Taobao).decrypted_items,
        3
    );

    let empty = query(&[("not-an-oaid", plain.tid.to_string(), "1006")]);
    let v = api(&app, &signed(DECRYPT, &session, &[("query_list", &empty)]))
        .await
        .json();
    assert!(
        v["top_oaid_decrypt_response"]
            .get("receiver_list")
            .is_none(),
        "{v}"
    );
}

#[actix_web::test]
async fn scenes_permission_and_the_daily_quota_are_enforced() {
    let decrypt = DecryptConfig {
        daily_quota: 2,
        taobao_scenes: ["1006".to_owned()].into(),
        denied: false,
    };
    let state = state_with_decrypt(decrypt);
    let app = sim!(state);
    let session = token_of(&login(&app).await);
    let orders = orders_for(&state, &ShopKey::default_seller(APP));
    let t = &orders.trades[0];
    let one = |scene: &str| query(&[(&t.oaid, t.tid.to_string(), scene)]);
    let app = &app;
    let session = &session;
    let call = |list: String| {
        let params = signed(DECRYPT, session, &[("query_list", &list)]);
        async move { api(app, &params).await }
    };

    let refused = call(one("2002")).await;
    assert_eq!(
        (error_code(&refused), sub_code(&refused)),
        (11, "isv.scene-not-authorized".to_owned())
    );
    let unknown = call(one("3001")).await;
    assert_eq!(error_code(&unknown), 41);
    // A query without a scene is refused, never served past the app's scene grant.
    let sceneless = json!([{"oaid": t.oaid, "tid": t.tid.to_string()}]).to_string();
    let missing = call(sceneless).await;
    assert_eq!(
        (error_code(&missing), sub_code(&missing)),
        (40, "isv.missing-parameter".to_owned())
    );
    let too_many = query(&vec![(t.oaid.as_str(), t.tid.to_string(), "1006"); 21]);
    assert_eq!(error_code(&call(too_many).await), 41);

    assert!(call(one("1006")).await.json()["top_oaid_decrypt_response"].is_object());
    let two = query(&[
        (&t.oaid, t.tid.to_string(), "1006"),
        (&t.oaid, t.tid.to_string(), "1006"),
    ]);
    let over = call(two).await;
    assert_eq!(
        (error_code(&over), sub_code(&over)),
        (
            7,
            "accesscontrol.limited-by-app-api-access-count".to_owned()
        ),
        "a call that would pass the quota is refused whole"
    );
    assert!(call(one("1006")).await.json()["top_oaid_decrypt_response"].is_object());
    let spent = call(one("1006")).await;
    assert_eq!(error_code(&spent), 7);
    let ban = spent.json()["error_response"]["sub_msg"]
        .as_str()
        .unwrap()
        .to_owned();
    let seconds: u64 = ban
        .split("last for ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&seconds), "{ban}");

    let denied = state_with_decrypt(DecryptConfig {
        denied: true,
        ..DecryptConfig::default()
    });
    let app = sim!(denied);
    let session = token_of(&login(&app).await);
    let params = signed(DECRYPT, &session, &[("query_list", &one("1006"))]);
    let reply = api(&app, &params).await;
    assert_eq!(
        (error_code(&reply), sub_code(&reply)),
        (11, "isv.permission-api-package-limit".to_owned())
    );
}
