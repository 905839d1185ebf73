//! A buyer's identities are what their orders carry now: an order whose later version names
//! another receiver no longer ties its old identity to the buyer, so the person it named first
//! becomes a buyer of their own instead of being merged into this one for good. A phone revealed
//! later joins the buyer to the lead known by it; rotating the blind-index key keeps every
//! buyer, per tenant.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::{
    t_ecom_order_processed, t_lead_identity, t_order_lead, t_order_revealed_identity,
};
use leadgen_domain::NeutralStatus;

use crate::support::{Run, Spec, order};

/// A PDD order (its buyer known by the search index of the phone's ciphertext) to `phone_index`.
fn pdd(id: &str, day: i64, phone_index: &str) -> Spec {
    Spec {
        shop: 2,
        order: order(
            id,
            day,
            NeutralStatus::Completed,
            4_000,
            None,
            Some(&format!("${phone_index}$AgAAAAF{id}$0$$")),
        ),
    }
}

#[tokio::test]
async fn an_identity_no_order_carries_any_more_leaves_the_buyer() {
    let run = Run::new().await;
    // Buyer A's order first sent to a friend's phone (B), then corrected to A's own.
    let first = run.store(&[pdd("p1", 10, "IDXB")], "PENDING").await;
    assert_eq!(run.process(&first).await.new_leads.len(), 1);
    let corrected = run.store(&[pdd("p1", 10, "IDXA")], "PENDING").await;
    let summary = run.process(&corrected).await;
    assert!(summary.new_leads.is_empty(), "{summary:?}");
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let kept: Vec<String> = t_lead_identity::table
        .select(t_lead_identity::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        kept.len(),
        1,
        "only the receiver the order names now: {kept:?}"
    );
    // The friend's own first order: a buyer of their own, not merged into A.
    let friend = run.store(&[pdd("p2", 20, "IDXB")], "PENDING").await;
    let summary = run.process(&friend).await;
    assert_eq!(summary.new_leads.len(), 1, "{summary:?}");
    assert!(summary.merged_leads.is_empty(), "{summary:?}");
    let leads = run.leads().await;
    assert_eq!(
        leads.keys().cloned().collect::<Vec<_>>(),
        vec![vec!["p1".to_owned()], vec!["p2".to_owned()]]
    );
}

/// Key 2 becomes the blind-index key; key 1 (the test key) stays readable.
fn rotate_blind_index_key(run: &mut Run) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let old = leadgen_settings::SecretString::from(format!("1:{}", b64.encode([7u8; 32])));
    let new = leadgen_settings::SecretString::from(b64.encode([9u8; 32]));
    let mut processor = (*run.processor).clone();
    processor.indexer =
        std::sync::Arc::new(leadgen_crypto::BlindIndexer::new(2, &new, &[old]).unwrap());
    run.processor = std::sync::Arc::new(processor);
}

/// What lead-api keeps when a salesperson reveals the number of `raw_order`: its blind index.
async fn reveal(run: &Run, raw_order: i64, index: &str) {
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    diesel::insert_into(t_order_revealed_identity::table)
        .values((
            t_order_revealed_identity::raw_order_id.eq(raw_order),
            t_order_revealed_identity::tenant_id.eq(1),
            t_order_revealed_identity::key_hash.eq(index),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn rotating_the_blind_index_key_keeps_every_buyer_and_rewrites_their_identities() {
    use leadgen_db::schema::t_lead_identity;
    let mut run = Run::new().await;
    let specs = crate::support::scenario();
    let ids = run.store(&specs, "PENDING").await;
    run.process(&ids).await;
    run.rescore_all().await;
    let before = run.leads().await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let lead_ids = |conn: &mut leadgen_db::PooledConn| {
        t_order_lead::table
            .filter(t_order_lead::merged_into.is_null())
            .order(t_order_lead::id.asc())
            .select(t_order_lead::id)
            .load::<i64>(conn)
    };
    let ids_before = lead_ids(&mut conn).await.unwrap();

    // Key 2 becomes current; key 1 (the test key) stays readable. Then every order is rebuilt.
    rotate_blind_index_key(&mut run);
    let ids = run.store(&specs, "PENDING").await;
    run.process(&ids).await;
    run.rescore_all().await;

    assert_eq!(
        lead_ids(&mut conn).await.unwrap(),
        ids_before,
        "no buyer became a new lead"
    );
    assert_eq!(run.leads().await, before);
    let keys: Vec<String> = t_lead_identity::table
        .select(t_lead_identity::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.starts_with("t2.")),
        "old-key identities remain"
    );
}

#[tokio::test]
async fn a_phone_revealed_later_merges_the_buyer_with_the_lead_known_by_it() {
    let run = Run::new().await;
    // Shop 0 sent the buyer's phone encrypted (known by open id only); shop 1 in clear.
    let ids = run
        .store(
            &[
                Spec {
                    shop: 0,
                    order: order(
                        "r1",
                        5,
                        NeutralStatus::Completed,
                        5_000,
                        Some("x"),
                        Some("#Kc8#abc#1##"),
                    ),
                },
                Spec {
                    shop: 1,
                    order: order(
                        "r2",
                        9,
                        NeutralStatus::Completed,
                        6_000,
                        Some("y"),
                        Some("13700000009"),
                    ),
                },
            ],
            "PENDING",
        )
        .await;
    assert_eq!(run.process(&ids).await.new_leads.len(), 2);

    // A salesperson revealed shop 0's number (lead-api keeps only its blind index and hands the
    // order back): the next processing merges the two buyers.
    let key = leadgen_domain::buyer::IdentityKey::phone("+86 137 0000 0009").unwrap();
    let index = run.processor.indexer.current(1, &key.material);
    reveal(&run, ids[0], &index).await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let summary = run.process(&ids[..1]).await;
    assert_eq!(summary.merged_leads.len(), 1, "{summary:?}");
    let leads = run.leads().await;
    assert_eq!(
        leads.keys().cloned().collect::<Vec<_>>(),
        vec![vec!["r1".to_owned(), "r2".to_owned()]]
    );
    let carried: Vec<String> = t_ecom_order_processed::table
        .filter(t_ecom_order_processed::order_id.eq("r1"))
        .select(t_ecom_order_processed::identity_keys)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(carried.contains(&index), "{carried:?}");

    // Reprocessing the order keeps the identity.
    let summary = run.process(&ids[..1]).await;
    assert!(summary.merged_leads.is_empty());
    let kinds: Vec<String> = t_lead_identity::table
        .filter(t_lead_identity::key_hash.eq(&index))
        .select(t_lead_identity::kind)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(kinds, vec!["PHONE"]);
}

#[tokio::test]
async fn a_revealed_phone_known_nowhere_else_survives_a_key_rotation() {
    use leadgen_db::schema::t_lead_identity;
    let mut run = Run::new().await;
    // The platform sent only a ciphertext; a salesperson revealed the number.
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: order(
                    "k1",
                    5,
                    NeutralStatus::Completed,
                    5_000,
                    None,
                    Some("#Kc8#k1#1##"),
                ),
            }],
            "PENDING",
        )
        .await;
    run.process(&ids).await;
    let key = leadgen_domain::buyer::IdentityKey::phone("13700000011").unwrap();
    let index = run.processor.indexer.current(1, &key.material);
    reveal(&run, ids[0], &index).await;
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    run.process(&ids).await;

    // The key rotates and the order is rebuilt: the number was never stored, so its index
    // cannot be rewritten under the new key; it is kept under the old one (still configured, so
    // a search by the full number finds the buyer), not deleted with the other old indexes.
    rotate_blind_index_key(&mut run);
    run.process(&ids).await;
    let kept: Vec<String> = t_lead_identity::table
        .filter(t_lead_identity::key_hash.eq(&index))
        .select(t_lead_identity::kind)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, vec!["PHONE"], "the revealed phone stays findable");
    assert!(
        run.processor.indexer.all(1, &key.material).contains(&index),
        "a search computes the old key's index too"
    );
}

#[tokio::test]
async fn identities_indexed_for_all_tenants_alike_are_found_and_rewritten_per_tenant() {
    use leadgen_db::schema::t_lead_identity;
    let run = Run::new().await;
    let ids = run
        .store(
            &[Spec {
                shop: 0,
                order: order(
                    "s1",
                    5,
                    NeutralStatus::Completed,
                    5_000,
                    Some("shared"),
                    None,
                ),
            }],
            "PENDING",
        )
        .await;
    let lead = run.process(&ids).await.new_leads[0];
    let mut conn = leadgen_db::conn(&run.db.pool).await.unwrap();
    let per_tenant: Vec<String> = t_lead_identity::table
        .select(t_lead_identity::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(!per_tenant.is_empty());
    assert!(
        per_tenant.iter().all(|k| k.starts_with("t1.")),
        "{per_tenant:?}"
    );
    // As the first scheme wrote them: one index for every tenant (the last of `all`).
    let first = order(
        "s1",
        5,
        NeutralStatus::Completed,
        5_000,
        Some("shared"),
        None,
    );
    let keys = leadgen_domain::buyer::identity_keys(leadgen_domain::PlatformType::Jd, 0, &first);
    let indexes = run.processor.indexer.all(1, &keys[0].material);
    let shared = indexes.last().unwrap().clone();
    assert!(shared.starts_with("1."), "{indexes:?}");
    assert!(
        per_tenant.contains(&indexes[0]),
        "{per_tenant:?} {indexes:?}"
    );
    diesel::update(t_lead_identity::table.filter(t_lead_identity::key_hash.eq(&indexes[0])))
        .set(t_lead_identity::key_hash.eq(&shared))
        .execute(&mut conn)
        .await
        .unwrap();

    // The buyer's next order finds its lead by the old index, and the identity is rewritten.
    let next = run
        .store(
            &[Spec {
                shop: 0,
                order: order("s2", 9, NeutralStatus::Paid, 7_000, Some("shared"), None),
            }],
            "PENDING",
        )
        .await;
    let summary = run.process(&next).await;
    assert!(summary.new_leads.is_empty(), "{summary:?}");
    assert_eq!(summary.updated_leads, vec![lead]);
    let keys: Vec<String> = t_lead_identity::table
        .select(t_lead_identity::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(keys.contains(&indexes[0]), "{keys:?}");
    assert!(
        !keys.contains(&shared),
        "the shared index is gone: {keys:?}"
    );
}
