//! The broker connections are force-closed (`rabbitmqctl close_connection`, only this test's
//! connections: they are named after the prefix); publishing and consuming recover.

use std::collections::HashMap;
use std::time::Duration;

use lapin::options::ExchangeDeleteOptions;
use leadgen_messaging::OutgoingMessage;
use tokio::sync::watch;

use crate::support::{
    Behaviour, CONSUMER, Fixture, Probe, close_process_connections, connections_named, eventually,
    message, options,
};

/// Force-closes this test's connections: the publishing one, and the consuming one where a
/// consumer or a consuming channel opened it.
async fn lose_connection(fx: &Fixture) {
    let closed = close_process_connections(fx.prefix()).await;
    assert!(
        (1..=2).contains(&closed),
        "one publishing and at most one consuming connection per process: {closed}"
    );
}

/// Publishes, retrying a publish that raced the close notification (the next use reconnects).
async fn publish_after_loss(fx: &Fixture, message: &OutgoingMessage) {
    for _ in 0..3 {
        match fx.broker.publish(message).await {
            Ok(()) => return,
            Err(e) => eprintln!("publish raced the connection loss: {e}"),
        }
    }
    fx.publish(message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reconnects_and_redeclares_the_topology_after_the_connection_is_closed() {
    let fx = Fixture::new(&[CONSUMER]).await;
    // Only a re-declared topology (exchange and binding) gets the next message to the queue.
    let channel = fx.broker.consumer_channel().await.expect("admin channel");
    assert!(fx.broker.is_connected().await);

    channel
        .exchange_delete(
            &fx.topology().events_exchange(),
            ExchangeDeleteOptions::default(),
        )
        .await
        .expect("delete the events exchange");

    lose_connection(&fx).await;
    eventually(Duration::from_secs(10), "is_connected() false", || async {
        !fx.broker.is_connected().await
    })
    .await;
    drop(channel);

    let sent = message(b"{}");
    fx.broker
        .publish(&sent)
        .await
        .expect("the first publish after the loss reconnects and succeeds");
    // The consuming connection, which `is_connected` reads in a process that consumes, comes
    // back with the next consumer.
    drop(fx.broker.consumer_channel().await.expect("consuming again"));
    assert!(fx.broker.is_connected().await);

    let received = fx.drain(&fx.queue(CONSUMER)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].delivery.data, sent.payload);
    eventually(
        Duration::from_secs(10),
        "exactly one live connection",
        || async { connections_named(fx.prefix()).await.len() == 1 },
    )
    .await;
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_consumer_reconnects_and_loses_nothing() {
    let fx = Fixture::new(&[CONSUMER]).await;
    // The first messages stay in flight until the connection is gone, so their acks are lost.
    let (open_gate, gate) = watch::channel(false);
    let probe = Probe::new(Behaviour::GatedLedger {
        pool: fx.db.pool.clone(),
        gate,
    });
    let running = fx.spawn_consumer(CONSUMER, probe.clone());

    let before: Vec<OutgoingMessage> = (0..3).map(|_| message(b"{}")).collect();
    for m in &before {
        fx.publish(m).await;
    }
    eventually(Duration::from_secs(10), "all three in flight", || async {
        probe.call_count() == before.len()
    })
    .await;
    lose_connection(&fx).await;
    // The broker has closed the connection (and requeued what was in flight on it): the
    // handlers' acks, on the lost channel, cannot reach it, whether or not the consumer has
    // reconnected meanwhile (it does at once, beside the running handlers).
    open_gate.send_replace(true);

    let after: Vec<OutgoingMessage> = (0..5).map(|_| message(b"{}")).collect();
    for m in &after {
        publish_after_loss(&fx, m).await;
    }
    let all: Vec<String> = before
        .iter()
        .chain(&after)
        .map(|m| m.message_id.clone())
        .collect();
    // Every message handled, and each of the first three redelivered (its ack was lost).
    eventually(Duration::from_secs(30), "every message handled", || async {
        let effects = fx.side_effects().await;
        let calls = probe.calls();
        all.iter().all(|id| effects.contains_key(id))
            && before.iter().all(|m| {
                calls
                    .iter()
                    .filter(|c| c.message_id.as_deref() == Some(m.message_id.as_str()))
                    .count()
                    >= 2
            })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.handle.is_finished(),
        "consumer::run still running after reconnecting"
    );
    assert!(fx.broker.is_connected().await);
    running.stop().await.expect("consumer stops cleanly");

    let effects = fx.side_effects().await;
    let expected: HashMap<String, usize> = all.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(effects, expected, "each message's side effect exactly once");
    eprintln!(
        "handler calls: {} for {} messages (redeliveries deduplicated by the ledger)",
        probe.call_count(),
        all.len()
    );
    assert_eq!(
        fx.ready(&fx.queue(CONSUMER)).await,
        0,
        "nothing left unacked"
    );
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);
    eventually(
        Duration::from_secs(10),
        "exactly one live connection",
        || async { connections_named(fx.prefix()).await.len() == 1 },
    )
    .await;
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_outage_long_after_the_first_does_not_make_the_consumer_give_up() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let probe = Probe::new(Behaviour::Ledger {
        pool: fx.db.pool.clone(),
        delay: Duration::ZERO,
    });
    let mut opts = options(CONSUMER);
    opts.give_up_after = Duration::from_secs(3);
    let running = fx.spawn_consumer_with(opts, probe.clone());

    for round in 0..2 {
        lose_connection(&fx).await;
        let m = message(b"{}");
        publish_after_loss(&fx, &m).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            assert!(
                !running.handle.is_finished(),
                "consumer::run gave up after outage {} although the broker was back at once",
                round + 1
            );
            if fx.side_effects().await.contains_key(&m.message_id) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message after outage {} not handled",
                round + 1
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Healthy for longer than give_up_after before the next outage.
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    running.stop().await.expect("consumer stops cleanly");
    fx.close().await;
}
