//! The platforms' quota across replicas: two processes' gates on one database hand out slots one
//! interval apart between them, whatever their interleaving. The slots are read on the database's
//! clock, the one they are spaced on: this process's clock reads them late by a round trip that a
//! loaded machine stretches.

use std::sync::Arc;
use std::time::Duration;

use leadgen_platforms::resilience::{MAX_QUEUE_AHEAD, NoSlot, SharedGate};
use leadgen_runtime::PgRateGate;
use leadgen_test_support::TestDb;

/// The API the calls are of.
const API: &str = "jingdong.pop.order.search";

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
                    .reserve_slot("JD:app", API, interval, MAX_QUEUE_AHEAD)
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
        .reserve("JD:other-app", API, interval, MAX_QUEUE_AHEAD)
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
        match gate.reserve_slot("JD:flooded", API, interval, bound).await {
            Ok(r) => reserved.push(r),
            Err(NoSlot::Full) => refused += 1,
            Err(e) => panic!("no slot: {e:?}"),
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
    let again = gate.reserve_slot("JD:flooded", API, interval, bound).await;
    assert!(again.is_ok(), "{again:?}");
}

/// A ban one replica learnt holds every replica's next calls without a slot taken: the calls of
/// the API it names, or every call of the app key for a ban of the whole app, until it ends; a
/// shorter ban learnt meanwhile does not shorten it, and another app key is not held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_one_replica_learnt_holds_every_replicas_calls_until_it_ends() {
    let db = TestDb::new().await;
    let settings = leadgen_test_support::database_settings(&db.url);
    let [learnt, other]: [PgRateGate; 2] = std::array::from_fn(|_| PgRateGate {
        pool: leadgen_db::build_pool(&settings, "t").expect("pool"),
    });
    let interval = Duration::from_millis(10);
    let decrypt = "jingdong.jos.order.oaid.decrypt";
    learnt
        .hold_calls("JD:app", API, Duration::from_secs(30), "2 调用次数超限")
        .await
        .expect("hold");
    learnt
        .hold_calls("JD:app", API, Duration::from_secs(1), "a shorter one")
        .await
        .expect("hold");
    match other
        .reserve_slot("JD:app", API, interval, MAX_QUEUE_AHEAD)
        .await
    {
        Err(NoSlot::Held { left, length, said }) => {
            assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30));
            assert_eq!(
                length,
                Duration::from_secs(30),
                "how long it was when learnt"
            );
            assert_eq!(said, "2 调用次数超限");
        }
        answer => panic!("not held: {answer:?}"),
    }
    // Another API of the key, and another key, go on.
    for (key, api) in [("JD:app", decrypt), ("JD:other-app", API)] {
        let answer = other
            .reserve_slot(key, api, interval, MAX_QUEUE_AHEAD)
            .await;
        assert!(answer.is_ok(), "{key} {api}: {answer:?}");
    }
    // A ban of the whole app key holds every API's calls, until it ends.
    learnt
        .hold_calls("JD:app", "*", Duration::from_millis(600), "app-wide")
        .await
        .expect("hold");
    let held = other
        .reserve_slot("JD:app", decrypt, interval, MAX_QUEUE_AHEAD)
        .await;
    assert!(
        matches!(&held, Err(NoSlot::Held { said, .. }) if said == "app-wide"),
        "{held:?}"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = other
        .reserve_slot("JD:app", decrypt, interval, MAX_QUEUE_AHEAD)
        .await;
    assert!(after.is_ok(), "{after:?}");
}
