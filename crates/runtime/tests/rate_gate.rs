//! The platforms' quota across replicas: two processes' gates on one database hand out slots one
//! interval apart between them, whatever their interleaving. The slots are read on the database's
//! clock, the one they are spaced on: this process's clock reads them late by a round trip that a
//! loaded machine stretches.

use std::sync::Arc;
use std::time::Duration;

use leadgen_platforms::resilience::{MAX_QUEUE_AHEAD, NoSlot, SharedGate};
use leadgen_runtime::PgRateGate;
use leadgen_test_support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_app_keys_slots() {
    let db = TestDb::new().await;
    // Two replicas: each its own pool, as two processes would have.
    let settings = leadgen_test_support::database_settings(&db.url);
    let replicas: Vec<Arc<PgRateGate>> = (0..2)
        .map(|_| {
            Arc::new(PgRateGate {
                pool: leadgen_db::build_pool(&settings, "t").expect("pool"),
            })
        })
        .collect();
    let interval = Duration::from_millis(40);
    let mut tasks = Vec::new();
    for (r, gate) in replicas.iter().enumerate() {
        for _ in 0..15 {
            let gate = Arc::clone(gate);
            tasks.push(tokio::spawn(async move {
                let reserved = gate
                    .reserve_slot("JD:app", interval, MAX_QUEUE_AHEAD)
                    .await
                    .expect("reserve");
                (r, reserved)
            }));
        }
    }
    let mut slots = Vec::new();
    for t in tasks {
        slots.push(t.await.expect("task"));
    }
    slots.sort_by(|a, b| a.1.at_epoch.total_cmp(&b.1.at_epoch));
    // Both replicas got slots, and no two slots are closer than the interval (less a few
    // microseconds of a float's rounding of the epoch).
    assert!(slots.iter().any(|(r, _)| *r == 0) && slots.iter().any(|(r, _)| *r == 1));
    let tolerance = 1e-5;
    for pair in slots.windows(2) {
        let gap = pair[1].1.at_epoch - pair[0].1.at_epoch;
        assert!(
            gap + tolerance >= interval.as_secs_f64(),
            "two calls {gap} s apart: {slots:?}"
        );
    }
    // No one is told to wait beyond the slots reserved before theirs.
    for (_, reserved) in &slots {
        assert!(reserved.slot.wait <= interval * 30, "{reserved:?}");
    }

    // Another app key has slots of its own.
    let other = replicas[0]
        .reserve("JD:other-app", interval, MAX_QUEUE_AHEAD)
        .await
        .expect("reserve");
    assert_eq!(other.wait, Duration::ZERO);
}

/// A flood of calls with one app key (a user firing consent callbacks that each wait for a
/// slot) queues no further ahead than asked: the calls past it are refused and take no slot,
/// so every other tenant's calls with that key wait no longer than that.
#[tokio::test]
async fn a_flood_queues_no_further_ahead_than_the_bound() {
    let db = TestDb::new().await;
    let gate = PgRateGate {
        pool: db.pool.clone(),
    };
    // Wide enough that 30 round trips to the database cannot let the queue drain (they would
    // have to take 20 intervals, six seconds, for no call to be refused).
    let interval = Duration::from_millis(300);
    let bound = Duration::from_millis(2850);
    let mut reserved = Vec::new();
    let mut refused = 0;
    let started = std::time::Instant::now();
    for _ in 0..30 {
        match gate.reserve_slot("JD:flooded", interval, bound).await {
            Ok(r) => reserved.push(r),
            Err(NoSlot::Full) => refused += 1,
            Err(NoSlot::Unavailable(e)) => panic!("gate unavailable: {e}"),
        }
    }
    // Slots up to the bound ahead: ten, plus one for each interval the 30 round trips took
    // (each of those let the queue's head move on); the rest refused.
    let took = started.elapsed();
    let most = 10 + (took.as_secs_f64() / interval.as_secs_f64()).ceil() as usize + 1;
    assert!(
        (10..=most).contains(&reserved.len()),
        "{} reserved in {took:?}",
        reserved.len()
    );
    assert!(refused > 0, "none refused in {took:?}");
    let last = reserved.last().expect("reserved").slot.wait;
    assert!(last <= bound + interval, "{last:?}");
    // Once the queue has drained, calls are given slots again.
    tokio::time::sleep(last + interval).await;
    let again = gate.reserve_slot("JD:flooded", interval, bound).await;
    assert!(again.is_ok(), "{again:?}");
}
