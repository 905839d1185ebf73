//! A consumer that stops (SIGTERM) cancels its subscription at once, before it waits for its
//! running handlers: what is published meanwhile goes to the other replicas instead of waiting
//! on the stopping one (prefetched, never started) until its slowest handler ends. Against the local RabbitMQ, with a
//! prefix of its own.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, Incoming, Outcome, OutgoingMessage, QueueSpec};
use leadgen_test_support::TestBroker;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NAME: &str = "stopping";
const ROUTING_KEY: &str = "probe.stopping.v1";

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

fn probe(id: &str) -> OutgoingMessage {
    OutgoingMessage {
        routing_key: ROUTING_KEY.into(),
        message_id: id.into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    }
}

async fn next(started: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("a message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_consumer_unsubscribes_before_it_waits_for_its_handlers() {
    let spec = QueueSpec {
        consumer: NAME,
        routing_keys: vec![ROUTING_KEY],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Broker::connect(&test.settings(), vec![spec])
        .await
        .expect("connect");
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
