//! Queue depths: what waits in a process's queue, its dead-letter queue and among the parked
//! unrouted events, read with passive declares; a queue that went missing is left out without
//! losing the others. Against the local RabbitMQ, with a prefix of its own.

use std::collections::HashMap;

use lapin::BasicProperties;
use lapin::options::QueueDeleteOptions;
use leadgen_messaging::dead_letter::Death;
use leadgen_messaging::depth::{Depth, DepthKind};
use leadgen_messaging::{Broker, OutgoingMessage, QueueSpec};
use leadgen_test_support::TestBroker;

fn event(routing_key: &str, id: &str) -> OutgoingMessage {
    OutgoingMessage {
        routing_key: routing_key.into(),
        message_id: id.into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    }
}

fn depth(depths: &[Depth], kind: DepthKind) -> Option<(String, u32)> {
    depths
        .iter()
        .find(|d| d.kind == kind)
        .map(|d| (d.queue.clone(), d.messages))
}

#[tokio::test]
async fn depths_count_ready_dead_and_parked_messages() {
    let spec = QueueSpec {
        consumer: "depth-probe",
        routing_keys: vec!["probe.happened.v1"],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Broker::connect(&test.settings(), vec![spec])
        .await
        .expect("connect");
    let topology = broker.topology().clone();
    let queue = topology.queue("depth-probe");

    for id in ["a", "b"] {
        broker
            .publish(&event("probe.happened.v1", id))
            .await
            .expect("routed");
    }
    broker
        .publish(&event("nobody.listens.v1", "c"))
        .await
        .expect("parked");
    broker
        .dead_letter(&Death {
            queue: &queue,
            body: b"{}",
            properties: &BasicProperties::default(),
            reason: "probe",
            deliveries: 5,
        })
        .await
        .expect("dead-lettered");

    let depths = broker.queue_depths().await.expect("depths");
    assert_eq!(
        depth(&depths, DepthKind::Ready),
        Some((queue.clone(), 2)),
        "{depths:?}"
    );
    // Labelled with the consumer's queue, like `leadgen_messages_dead_lettered_total`.
    assert_eq!(
        depth(&depths, DepthKind::DeadLetters),
        Some((queue.clone(), 1)),
        "{depths:?}"
    );
    assert_eq!(
        depth(&depths, DepthKind::Parked),
        Some((topology.unrouted_parked(), 1)),
        "{depths:?}"
    );

    // A missing DLQ closes the sampling channel; the queues after it are still read.
    let channel = broker.consumer_channel().await.expect("channel");
    channel
        .queue_delete(
            &topology.dead_letter_queue("depth-probe"),
            QueueDeleteOptions::default(),
        )
        .await
        .expect("delete the DLQ");
    let depths = broker.queue_depths().await.expect("depths");
    assert_eq!(depth(&depths, DepthKind::DeadLetters), None, "{depths:?}");
    assert_eq!(depth(&depths, DepthKind::Ready), Some((queue, 2)));
    assert_eq!(
        depth(&depths, DepthKind::Parked),
        Some((topology.unrouted_parked(), 1))
    );
    broker.close().await;
}
