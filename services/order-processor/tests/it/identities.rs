//! A buyer's identities are what their orders carry now: an order whose later version names
//! another receiver no longer ties its old identity to the buyer, so the person it named first
//! becomes a buyer of their own instead of being merged into this one for good.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leadgen_db::schema::t_lead_identity;
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
