//! The platforms' quota across replicas: two processes' gates on one database hand out slots one
//! interval apart between them, whatever their interleaving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leadgen_platforms::resilience::SharedGate;
use leadgen_runtime::PgRateGate;
use leadgen_test_support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_app_keys_slots() {
    let db = TestDb::new().await;
    // Two replicas: each its own pool, as two processes would have.
    let settings = leadgen_test_support::database_settings(&db.url);
    let replicas: Vec<Arc<dyn SharedGate>> = (0..2)
        .map(|_| {
            Arc::new(PgRateGate {
                pool: leadgen_db::build_pool(&settings, "t").expect("pool"),
            }) as Arc<dyn SharedGate>
        })
        .collect();
    let interval = Duration::from_millis(40);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (r, gate) in replicas.iter().enumerate() {
        for _ in 0..15 {
            let gate = Arc::clone(gate);
            tasks.push(tokio::spawn(async move {
                let wait = gate
                    .reserve("JD:app", interval)
                    .await
                    .expect("reserve")
                    .wait;
                (r, started.elapsed() + wait)
            }));
        }
    }
    let mut slots = Vec::new();
    for t in tasks {
        slots.push(t.await.expect("task"));
    }
    slots.sort_by_key(|(_, at)| *at);
    // Both replicas got slots, and no two slots are closer than the interval (less the time
    // between the database deciding and this process reading its clock).
    assert!(slots.iter().any(|(r, _)| *r == 0) && slots.iter().any(|(r, _)| *r == 1));
    for pair in slots.windows(2) {
        let gap = pair[1].1.saturating_sub(pair[0].1);
        assert!(
            gap + Duration::from_millis(15) >= interval,
            "two calls {gap:?} apart: {slots:?}"
        );
    }
    let span = slots[slots.len() - 1].1 - slots[0].1;
    assert!(
        span + Duration::from_millis(15) >= interval * 29,
        "{span:?}"
    );

    // Another app key has slots of its own.
    let other = replicas[0]
        .reserve("JD:other-app", interval)
        .await
        .expect("reserve");
    assert_eq!(other.wait, Duration::ZERO);
}
