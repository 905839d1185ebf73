//! A lost connection is replaced at once, not when the slowest handler ends: a handler that
//! acknowledged early and runs on does not keep the consumer from reconnecting, and stopping
//! still waits for it. A consumer that stops (SIGTERM) cancels its subscription at once,
//! before it waits for its running handlers: what is published meanwhile goes to the other
//! replicas instead of waiting on the stopping one (prefetched, never started) until its
//! slowest handler ends. The consuming connection is force-closed with `rabbitmqctl
//! close_connection` (only this test's: it is named after the prefix). Against the local
//! RabbitMQ, with a prefix of its own.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, Incoming, Outcome, OutgoingMessage, QueueSpec, Topology};
use leadgen_test_support::TestBroker;
use leadgen_test_support::rabbitmq::close_connections_named;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NAME: &str = "reconnect";
const ROUTING_KEY: &str = "probe.reconnect.v1";

/// Acknowledges `a` early and holds it until `release`, then notes that it ended; acks
/// everything else at once. Sends every message it starts on.
struct HoldsAfterEarlyAck {
    started: mpsc::UnboundedSender<String>,
    release: CancellationToken,
    a_ended: AtomicBool,
}

#[async_trait::async_trait]
impl Handler for HoldsAfterEarlyAck {
    async fn handle(&self, message: Incoming) -> Outcome {
        let id = message.message_id.clone().unwrap_or_default();
        if id == "a" {
            message.early_ack.ack().await;
            let _ = self.started.send(id);
            self.release.cancelled().await;
            self.a_ended.store(true, Ordering::SeqCst);
        } else {
            let _ = self.started.send(id);
        }
        Outcome::Ack
    }
}

fn probe(id: &str) -> OutgoingMessage {
    OutgoingMessage {
        routing_key: ROUTING_KEY.into(),
        message_id: id.into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    }
}

/// Publishes, retrying a publish that raced the close notification (the next use reconnects).
async fn publish(broker: &Broker, message: &OutgoingMessage) {
    for _ in 0..3 {
        match broker.publish(message).await {
            Ok(()) => return,
            Err(e) => eprintln!("publish raced the connection loss: {e}"),
        }
    }
    broker.publish(message).await.expect("publish");
}

/// The next message id `started` reports, within 10 s.
async fn next(started: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("a message")
}

/// A broker prefix of this test's own, with the probe queue, and the connection to it.
async fn connected() -> (TestBroker, Arc<Broker>) {
    let spec = QueueSpec {
        consumer: NAME,
        routing_keys: vec![ROUTING_KEY],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Broker::connect(&test.settings(), vec![spec])
        .await
        .expect("connect");
    (test, broker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_replaced_while_a_handler_acknowledged_early_runs_on() {
    let (test, broker) = connected().await;
    let (started, mut handled) = mpsc::unbounded_channel();
    let release = CancellationToken::new();
    let handler = Arc::new(HoldsAfterEarlyAck {
        started,
        release: release.clone(),
        a_ended: AtomicBool::new(false),
    });
    let cancel = CancellationToken::new();
    let consuming = tokio::spawn(consumer::run(
        Arc::clone(&broker),
        Arc::clone(&handler) as Arc<dyn Handler>,
        ConsumeOptions {
            consumer: NAME,
            prefetch: 1,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(30),
        },
        cancel.clone(),
    ));

    publish(&broker, &probe("a")).await;
    assert_eq!(next(&mut handled, "a").await, "a");
    // `a` is acknowledged and still running when the consuming connection goes.
    let connection = Topology::connection_name_of(&test.prefix, true);
    assert_eq!(
        close_connections_named(&connection).await,
        1,
        "one consuming connection per process"
    );
    publish(&broker, &probe("b")).await;
    assert_eq!(
        next(&mut handled, "b, handled while a still runs").await,
        "b"
    );
    assert!(!handler.a_ended.load(Ordering::SeqCst), "a still runs");
    // `a` was acknowledged before the loss: it does not come back.
    let again = tokio::time::timeout(Duration::from_secs(1), handled.recv()).await;
    assert!(again.is_err(), "a message came back: {again:?}");
    assert!(!consuming.is_finished(), "consumer::run still running");

    // Stopping waits for `a`, although the session that received it is gone.
    cancel.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !consuming.is_finished(),
        "consumer::run returned while a handler still ran"
    );
    release.cancel();
    tokio::time::timeout(Duration::from_secs(10), consuming)
        .await
        .expect("consumer::run returns once the handler ended")
        .expect("joined")
        .expect("consumed");
    assert!(
        handler.a_ended.load(Ordering::SeqCst),
        "a ended before run returned"
    );
    broker.close().await;
}

/// Reports every message it starts; holds `a` until `release`.
struct HoldsA {
    started: mpsc::UnboundedSender<String>,
    release: CancellationToken,
}

#[async_trait::async_trait]
impl Handler for HoldsA {
    async fn handle(&self, message: Incoming) -> Outcome {
        let id = message.message_id.clone().unwrap_or_default();
        let _ = self.started.send(id.clone());
        if id == "a" {
            self.release.cancelled().await;
        }
        Outcome::Ack
    }
}

fn consume(
    broker: &Arc<Broker>,
    handler: HoldsA,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), leadgen_messaging::MessagingError>> {
    tokio::spawn(consumer::run(
        Arc::clone(broker),
        Arc::new(handler) as Arc<dyn Handler>,
        ConsumeOptions {
            consumer: NAME,
            prefetch: 4,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(30),
        },
        cancel.clone(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_consumer_unsubscribes_before_it_waits_for_its_handlers() {
    let (_test, broker) = connected().await;
    let release = CancellationToken::new();
    let (started_a, mut on_a) = mpsc::unbounded_channel();
    let stop_a = CancellationToken::new();
    let replica_a = consume(
        &broker,
        HoldsA {
            started: started_a,
            release: release.clone(),
        },
        &stop_a,
    );
    broker.publish(&probe("a")).await.expect("publish a");
    assert_eq!(next(&mut on_a, "a").await, "a");

    // Replica A stops while `a` runs: it takes nothing more (a delivery that raced its
    // unsubscribing goes straight back).
    stop_a.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!replica_a.is_finished(), "A still waits for `a`");

    // What comes now goes to replica B, while A still drains.
    broker.publish(&probe("c")).await.expect("publish c");
    let (started_b, mut on_b) = mpsc::unbounded_channel();
    let stop_b = CancellationToken::new();
    let replica_b = consume(
        &broker,
        HoldsA {
            started: started_b,
            release: release.clone(),
        },
        &stop_b,
    );
    assert_eq!(next(&mut on_b, "c on the other replica").await, "c");
    assert!(on_a.try_recv().is_err(), "A started nothing more");

    release.cancel();
    for replica in [replica_a, replica_b] {
        stop_b.cancel();
        tokio::time::timeout(Duration::from_secs(10), replica)
            .await
            .expect("stops")
            .expect("joined")
            .expect("consumed");
    }
    broker.close().await;
}
