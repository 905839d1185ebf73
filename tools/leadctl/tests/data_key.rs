//! `leadctl data-key status|reseal` against the real PostgreSQL: every value sealed under an old
//! data key is sealed again under the new one, so the old key can leave `previous_keys`; a value
//! no configured key opens is left and counted.

#![expect(
    clippy::unwrap_used,
    reason = "tests stop at the first broken expectation"
)]

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadctl::data_key::{KeyCount, Resealed, reseal, status};
use leadgen_crypto::Sealer;
use leadgen_db::schema::{t_ecom_order_raw as raw, t_ecom_platform_auth as auth, t_ecom_sync_task};
use leadgen_db::sealed;
use leadgen_domain::PlatformId;
use leadgen_settings::SecretString;
use leadgen_test_support::TestDb;

const OLD: &str = "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleSE=";
const NEW: &str = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE=";

fn sealer(id: u8, key: &str, previous: &[&str]) -> Sealer {
    let previous: Vec<SecretString> = previous.iter().map(|p| SecretString::from(*p)).collect();
    Sealer::new(id, &SecretString::from(key), &previous).unwrap()
}

/// The counts `status` gives `column`, as (key id, values).
async fn counts_of(conn: &mut leadgen_db::PgConn, column: &str) -> Vec<(String, i64)> {
    status(conn)
        .await
        .unwrap()
        .into_iter()
        .find(|(name, _)| name == column)
        .map(|(_, counts)| {
            counts
                .into_iter()
                .map(|KeyCount { key_id, values }| (key_id, values))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_value_sealed_under_an_old_key_is_sealed_again_under_the_new_one() {
    let db = TestDb::new().await;
    let mut conn = leadgen_db::conn(&db.pool).await.unwrap();
    let old = sealer(1, OLD, &[]);
    // A shop whose secrets the old key sealed, and one whose stored value never opened.
    let shop = db.active_shop(1, "JD").await;
    let broken = db.active_shop(1, "JD").await;
    let context = |column| sealed::platform_auth(column, PlatformId::new(shop));
    diesel::update(auth::table.find(shop))
        .set((
            auth::auth_info.eq(old
                .seal(&context("auth_info"), "{\"appSecret\":\"s\"}")
                .unwrap()),
            auth::access_token.eq(Some(old.seal(&context("access_token"), "AT").unwrap())),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    // Two orders of it, sealed under the old key too.
    let task: i64 = diesel::insert_into(t_ecom_sync_task::table)
        .values((
            t_ecom_sync_task::tenant_id.eq(1_i64),
            t_ecom_sync_task::platform_id.eq(shop),
            t_ecom_sync_task::platform_type.eq("JD"),
            t_ecom_sync_task::trigger_type.eq("MANUAL"),
            t_ecom_sync_task::status.eq("COMPLETED"),
            t_ecom_sync_task::window_start.eq(Utc::now()),
            t_ecom_sync_task::window_end.eq(Utc::now()),
        ))
        .returning(t_ecom_sync_task::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    for order in ["o-1", "o-2"] {
        let seal = |column| {
            old.seal(
                &sealed::raw_order(column, PlatformId::new(shop), order),
                &format!("{column} of {order}"),
            )
            .unwrap()
        };
        diesel::insert_into(raw::table)
            .values((
                raw::tenant_id.eq(1_i64),
                raw::platform_id.eq(shop),
                raw::platform_type.eq("JD"),
                raw::order_id.eq(order),
                raw::raw_data.eq(seal("raw_data")),
                raw::normalized.eq(Some(seal("normalized"))),
                // A version kept beside as unreadable is sealed as the raw_data it was.
                raw::unreadable_raw_data.eq((order == "o-1").then(|| seal("raw_data"))),
                raw::content_hash.eq(order),
                raw::sync_task_id.eq(task),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(
        counts_of(&mut conn, "t_ecom_order_raw.normalized").await,
        [("1".to_owned(), 2)]
    );
    assert_eq!(
        counts_of(&mut conn, "t_ecom_platform_auth.auth_info").await,
        [("1".to_owned(), 1), ("?".to_owned(), 1)],
        "the placeholder is no sealed value"
    );

    // The new key is current, the old one previous: one row per transaction, to page through.
    let rotated = sealer(2, NEW, &[&format!("1:{OLD}")]);
    let report = reseal(&mut conn, &rotated, 2, 1).await.unwrap();
    let of = |column: &str| {
        report
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, done)| done.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        of("t_ecom_order_raw.raw_data"),
        Resealed {
            resealed: 2,
            ..Resealed::default()
        }
    );
    assert_eq!(
        of("t_ecom_order_raw.unreadable_raw_data"),
        Resealed {
            resealed: 1,
            ..Resealed::default()
        }
    );
    assert_eq!(
        of("t_ecom_platform_auth.auth_info"),
        Resealed {
            resealed: 1,
            unreadable: 1,
            ..Resealed::default()
        }
    );
    for (column, values) in [
        ("t_ecom_order_raw.raw_data", 2),
        ("t_ecom_order_raw.normalized", 2),
        ("t_ecom_order_raw.unreadable_raw_data", 1),
        ("t_ecom_platform_auth.access_token", 1),
    ] {
        assert_eq!(
            counts_of(&mut conn, column).await,
            [("2".to_owned(), values)],
            "{column}"
        );
    }

    // The old key can go: the new one alone opens every value, bound to the same context.
    let new_only = sealer(2, NEW, &[]);
    let (secret, token): (String, Option<String>) = auth::table
        .find(shop)
        .select((auth::auth_info, auth::access_token))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        new_only.open(&context("auth_info"), &secret).unwrap(),
        "{\"appSecret\":\"s\"}"
    );
    assert_eq!(
        new_only
            .open(&context("access_token"), &token.unwrap())
            .unwrap(),
        "AT"
    );
    let normalized: Option<String> = raw::table
        .filter(raw::order_id.eq("o-2"))
        .select(raw::normalized)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        new_only
            .open(
                &sealed::raw_order("normalized", PlatformId::new(shop), "o-2"),
                &normalized.unwrap()
            )
            .unwrap(),
        "normalized of o-2"
    );
    let kept: Option<String> = raw::table
        .filter(raw::order_id.eq("o-1"))
        .select(raw::unreadable_raw_data)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        new_only
            .open(
                &sealed::raw_order("raw_data", PlatformId::new(shop), "o-1"),
                &kept.unwrap()
            )
            .unwrap(),
        "raw_data of o-1"
    );
    // Again: nothing left to do; the broken placeholder is still counted, never rewritten.
    let again = reseal(&mut conn, &rotated, 2, 100).await.unwrap();
    assert!(
        again.iter().all(|(_, done)| done.resealed == 0),
        "{again:?}"
    );
    let placeholder: String = auth::table
        .find(broken)
        .select(auth::auth_info)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(placeholder, "sealed-placeholder");
}
