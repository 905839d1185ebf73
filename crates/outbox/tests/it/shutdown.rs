//! Cancelling `consumer::run` lets in-flight handlers finish and settle.

use std::time::{Duration, Instant};

use crate::support::{Behaviour, CONSUMER, Fixture, Probe, eventually, message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_lets_the_in_flight_handler_finish_and_ack() {
    const HANDLER_TIME: Duration = Duration::from_millis(500);
    let fx = Fixture::new(&[CONSUMER]).await;
    let probe = Probe::new(Behaviour::Ledger {
        pool: fx.db.pool.clone(),
        delay: HANDLER_TIME,
    });
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    let slow = message(b"{}");
    fx.publish(&slow).await;
    eventually(Duration::from_secs(10), "the handler started", || async {
        probe.call_count() == 1
    })
    .await;
    assert_eq!(probe.finished(), 0, "still in flight when cancelled");

    let cancelled_at = Instant::now();
    running
        .stop()
        .await
        .expect("consumer::run returns Ok(()) when cancelled");
    let stop_took = cancelled_at.elapsed();
    eprintln!("consumer::run returned {stop_took:?} after cancellation");

    assert_eq!(
        probe.finished(),
        1,
        "the handler finished before run returned"
    );
    assert_eq!(
        fx.side_effects().await.get(&slow.message_id),
        Some(&1),
        "its work was committed"
    );
    // The channel is closed: an unacked message would be ready again.
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0, "acked");
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);

    // A new consumer gets nothing.
    let again = fx.spawn_consumer(CONSUMER, probe.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    again.stop().await.expect("second consumer stops cleanly");
    assert_eq!(probe.call_count(), 1, "not redelivered");
    fx.close().await;
}
