//! `consumer::run` and `consumer::settle` against a quorum queue: idempotency through the
//! ledger, dead-lettering, bounded redelivery.

use std::time::{Duration, Instant};

use crate::support::{
    Behaviour, CONSUMER, DELIVERY_LIMIT, Fixture, Probe, eventually, message, sync_event,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_twice_has_one_side_effect() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let body = serde_json::to_vec(&sync_event(1)).expect("serialize");
    let duplicate = message(&body);
    fx.publish(&duplicate).await;
    fx.publish(&duplicate).await;

    let probe = Probe::new(Behaviour::Ledger {
        pool: fx.db.pool.clone(),
        delay: Duration::ZERO,
    });
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    eventually(Duration::from_secs(15), "both copies handled", || async {
        probe.finished() >= 2
    })
    .await;
    // Stopping closes the channel: anything not acked would be back in the queue.
    running.stop().await.expect("consumer stops cleanly");

    assert_eq!(probe.call_count(), 2);
    let effects = fx.side_effects().await;
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(effects.get(&duplicate.message_id), Some(&1));
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0, "both copies acked");
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_message_is_dead_lettered_and_not_redelivered() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let poison = message(b"{ not an event");
    fx.publish(&poison).await;

    let probe = Probe::new(Behaviour::Reject);
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    eventually(
        Duration::from_secs(15),
        "the message in the DLQ",
        || async { fx.ready(&fx.dlq(CONSUMER)).await == 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.stop().await.expect("consumer stops cleanly");

    assert_eq!(probe.call_count(), 1, "handled once, never redelivered");
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0);
    let dead = fx.drain(&fx.dlq(CONSUMER)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0]
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string()),
        Some(poison.message_id.clone())
    );
    assert_eq!(dead[0].delivery.data, poison.payload);
    // It says why, from where, after how many deliveries, and when.
    let cause = death_headers(&dead[0].delivery);
    assert_eq!(
        (cause.0.as_deref(), cause.1.as_deref(), cause.2),
        (Some("poison"), Some(fx.queue(CONSUMER).as_str()), Some(1)),
    );
    assert!(cause.3, "a dead-letter time");
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_is_delivered_at_most_the_limit_then_dead_lettered() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let doomed = message(b"{}");
    fx.publish(&doomed).await;

    let started = Instant::now();
    let probe = Probe::new(Behaviour::AlwaysRetry);
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    // Backoff is at most 5 s per retry: 4 retries stay well under 45 s.
    eventually(
        Duration::from_secs(45),
        "the message in the DLQ",
        || async { fx.ready(&fx.dlq(CONSUMER)).await == 1 },
    )
    .await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.stop().await.expect("consumer stops cleanly");

    let calls = probe.calls();
    let counts: Vec<u32> = calls.iter().map(|m| m.delivery_count).collect();
    eprintln!("deliveries: {counts:?}, dead-lettered after {took:?}");
    assert!(
        !calls.is_empty() && calls.len() <= DELIVERY_LIMIT as usize,
        "delivered {} times (limit {DELIVERY_LIMIT}): counts {counts:?}",
        calls.len()
    );
    assert_eq!(
        counts,
        (0..DELIVERY_LIMIT).collect::<Vec<_>>(),
        "x-delivery-count seen by the handler"
    );
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0);
    let dead = fx.drain(&fx.dlq(CONSUMER)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.data, doomed.payload);
    let cause = death_headers(&dead[0].delivery);
    assert_eq!(
        (cause.0.as_deref(), cause.2),
        (Some("always failing"), Some(i64::from(DELIVERY_LIMIT))),
    );
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_retries_does_not_spend_them() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let waiting = message(b"{}");
    fx.publish(&waiting).await;

    // Down longer than every delivery's backoff together (the always-failing message above is
    // dead-lettered sooner): the consumer waits for the dependency instead of requeueing.
    let up_at = tokio::time::Instant::now() + Duration::from_secs(8);
    let probe = Probe::new(Behaviour::DownUntil(up_at));
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    eventually(
        Duration::from_secs(30),
        "the message handled once the dependency is back",
        || async { probe.finished() >= 2 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await.expect("consumer stops cleanly");

    let counts: Vec<u32> = probe.calls().iter().map(|m| m.delivery_count).collect();
    assert_eq!(counts, vec![0, 1], "one failed delivery, then success");
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0);
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_and_then_succeeds() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let flaky = message(b"{}");
    fx.publish(&flaky).await;

    let probe = Probe::new(Behaviour::RetryOnce);
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    eventually(
        Duration::from_secs(15),
        "the second delivery handled",
        || async { probe.finished() >= 2 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await.expect("consumer stops cleanly");

    let calls = probe.calls();
    assert_eq!(calls.len(), 2, "one failure, one success: {calls:?}");
    assert_eq!(
        calls[1].message_id.as_deref(),
        Some(flaky.message_id.as_str())
    );
    assert_eq!(calls[1].delivery_count, 1);
    assert!(calls[1].redelivered);
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0);
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);
    fx.close().await;
}

/// A dead letter's `x-leadgen-death-*` headers: reason, queue, deliveries, and whether a time.
fn death_headers(
    delivery: &lapin::message::Delivery,
) -> (Option<String>, Option<String>, Option<i64>, bool) {
    use lapin::types::AMQPValue;
    use leadgen_messaging::dead_letter::{DEATH_DELIVERIES, DEATH_QUEUE, DEATH_REASON, DEATH_TIME};
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let get = |key: &str| headers.inner().get(key).cloned();
    let text = |v: Option<AMQPValue>| match v {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    };
    let deliveries = match get(DEATH_DELIVERIES) {
        Some(AMQPValue::LongLongInt(n)) => Some(n),
        _ => None,
    };
    (
        text(get(DEATH_REASON)),
        text(get(DEATH_QUEUE)),
        deliveries,
        matches!(get(DEATH_TIME), Some(AMQPValue::Timestamp(_))),
    )
}
