//! The same orders give the same leads, tags and scores in any arrival order, any batch split,
//! and with two replicas processing concurrently.

use crate::support::{Run, scenario, shuffle, split};

/// One batch with everything, then the shop rescore: the reference.
async fn reference() -> (
    Run,
    std::collections::BTreeMap<Vec<String>, crate::support::LeadView>,
) {
    let run = Run::new().await;
    let specs = scenario();
    let ids = run.store(&specs, "PENDING").await;
    run.process(&ids).await;
    // One chunk: the other runs rescore in chunks of 3, so they also show that chunking does
    // not change a lead.
    run.rescore_all_in(i64::MAX).await;
    let leads = run.leads().await;
    (run, leads)
}

#[tokio::test]
async fn a_lead_is_a_buyer_merged_across_shops_by_phone() {
    let (_run, leads) = reference().await;
    let specs = scenario();
    // 12 JD buyers + the second JD shop's other buyer + 6 PDD buyers + 1 anonymous order; the
    // real phone on both JD shops makes one buyer of "oid-6" and "other-oid".
    assert_eq!(
        leads.len(),
        12 + 1 + 6 + 1,
        "{:#?}",
        leads.keys().collect::<Vec<_>>()
    );
    let merged = leads
        .iter()
        .find(|(orders, _)| orders.contains(&"jd2-1".to_owned()))
        .unwrap();
    assert_eq!(merged.0.len(), 5 + 1, "oid-6's five orders and jd2-1");
    assert_eq!(merged.1.validity, "VALID");
    assert_eq!(merged.1.masked, "139****5678");
    let total: usize = leads.keys().map(Vec::len).sum();
    assert_eq!(
        total,
        specs.len(),
        "every order belongs to exactly one lead"
    );
    let repeat = leads
        .iter()
        .find(|(o, _)| o.contains(&"jd-9-0".to_owned()))
        .unwrap();
    assert!(repeat.1.tags.contains(&"复购".to_owned()), "{:?}", repeat.1);
    let refunded = leads
        .iter()
        .find(|(o, _)| o.contains(&"jd-4-1-r".to_owned()))
        .unwrap();
    assert!(refunded.1.tags.contains(&"退款售后".to_owned()));
    assert!(refunded.1.reasons.to_string().contains("REFUND"));
}

/// A property over the real pipeline and database: any arrival order and any batch split
/// (batches of 1 to `max_batch` orders) give the reference's leads, tags and scores, and every
/// processed order is linked to the lead that lists it. Each case is a database of its own,
/// so the cases are few.
#[test]
fn arrival_order_and_batch_boundaries_do_not_change_the_leads() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let expected = rt.block_on(async { reference().await.1 });
    let config = ProptestConfig {
        cases: 6,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(seed in any::<u64>(), max_batch in 1_usize..=20)| {
        let (leads, unlinked) = rt.block_on(async {
            let run = Run::new().await;
            let mut specs = scenario();
            shuffle(&mut specs, seed);
            for batch in split(&specs, seed, max_batch) {
                let ids = run.store(&batch, "PENDING").await;
                run.process(&ids).await;
            }
            run.rescore_all().await;
            (run.leads().await, run.orders_not_linked_to_their_lead().await)
        });
        prop_assert_eq!(unlinked, Vec::<String>::new());
        prop_assert_eq!(&leads, &expected, "seed {} max {}", seed, max_batch);
    });
}

/// Two batches in flight at once, each in its own transaction and connection, as two replicas'
/// would run them (one processor shared, as one replica's concurrent deliveries share it; two
/// whole consumers on one queue are in `consumers.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_batch_transactions_give_the_same_leads() {
    let (_reference_run, expected) = reference().await;
    let run = std::sync::Arc::new(Run::new().await);
    let mut specs = scenario();
    shuffle(&mut specs, 42);
    let ids = run.store(&specs, "PENDING").await;
    let batches = split(&ids, 42, 6);
    let (a, b): (Vec<_>, Vec<_>) = batches
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let worker = |batches: Vec<(usize, Vec<i64>)>| {
        let run = std::sync::Arc::clone(&run);
        tokio::spawn(async move {
            for (_, ids) in batches {
                run.process(&ids).await;
            }
        })
    };
    let (ra, rb) = tokio::join!(worker(a), worker(b));
    ra.unwrap();
    rb.unwrap();
    run.rescore_all().await;
    assert_eq!(run.leads().await, expected);
}
