//! An event no queue is bound for is parked, not refused, and the parking queue is bounded by
//! length and age (the broker refuses a redeclaration with other bounds, which is how this test
//! reads them). Against the local RabbitMQ, with a prefix of its own.

use std::collections::HashMap;

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, ShortString};
use leadgen_messaging::topology::{UNROUTED_TTL_MS, parked_queue_args};
use leadgen_messaging::{Broker, OutgoingMessage};
use leadgen_test_support::TestBroker;

#[tokio::test]
async fn unrouted_events_are_parked_in_a_queue_bounded_by_length_and_age() {
    let test = TestBroker::new(Vec::new());
    let broker = Broker::connect(&test.settings(), Vec::new())
        .await
        .expect("connect");
    let topology = broker.topology().clone();
    broker
        .publish(&OutgoingMessage {
            routing_key: "nobody.listens.v1".into(),
            message_id: "m-1".into(),
            payload: b"{}".to_vec(),
            headers: HashMap::new(),
        })
        .await
        .expect("an unrouted event is accepted");

    let channel = broker.consumer_channel().await.expect("channel");
    let passive = QueueDeclareOptions {
        passive: true,
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let parked = channel
        .queue_declare(&topology.unrouted_parked(), passive, Default::default())
        .await
        .expect("the parking queue exists");
    assert_eq!(parked.message_count(), 1);

    // The same bounds redeclare fine; any other age is refused: the queue has exactly these.
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(&topology.unrouted_parked(), durable, parked_queue_args())
        .await
        .expect("same arguments");
    let mut other = parked_queue_args();
    other.insert(
        ShortString::from("x-message-ttl"),
        AMQPValue::LongLongInt(UNROUTED_TTL_MS + 1),
    );
    assert!(
        channel
            .queue_declare(&topology.unrouted_parked(), durable, other)
            .await
            .is_err(),
        "the broker accepted another TTL"
    );
    broker.close().await;
}
