//! Another team's broker user, as `deploy/rabbitmq/subscriber.sh` makes it: it declares and
//! consumes its own queue bound to the lead and shop events, and the broker refuses it everything else
//! (binding the module's commands, publishing on the events exchange, declaring the module's
//! queues). Against the local RabbitMQ (`rabbitmqctl` on this host), with a prefix of its own.

#![expect(
    clippy::expect_used,
    reason = "a failed script, connection or channel should stop the test at once"
)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use leadgen_messaging::{Broker, OutgoingMessage, QueueSpec};
use leadgen_test_support::{TestBroker, amqp_url};

const PASSWORD: &str = "a-subscriber-password";

fn script(args: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rabbitmq/subscriber.sh");
    let output = Command::new(path)
        .args(args)
        .env("LEADGEN_SUBSCRIBER_PASSWORD", PASSWORD)
        .output()
        .expect("run subscriber.sh");
    assert!(
        output.status.success(),
        "subscriber.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The test broker's URL with the team's credentials.
fn url_as(user: &str) -> String {
    let url = amqp_url();
    let (scheme, rest) = url.split_once("://").expect("an amqp:// URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

async fn channel(connection: &Connection) -> Channel {
    connection.create_channel().await.expect("channel")
}

fn refused(result: Result<impl std::fmt::Debug, lapin::Error>, what: &str) {
    let error = format!("{:?}", result.expect_err(what));
    assert!(error.contains("ACCESS_REFUSED"), "{what}: {error}");
}

#[tokio::test]
async fn a_subscriber_binds_lead_events_and_nothing_else() {
    let spec = QueueSpec {
        consumer: "sync-worker",
        routing_keys: vec!["sync.requested.v1"],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Broker::connect(&test.settings(), vec![spec])
        .await
        .expect("connect");
    let events = broker.topology().events_exchange();
    // Unique per run, like the prefix (`t-` and 32 hex digits).
    let team = format!("team-{}", &test.prefix[2..14]);
    script(&["--team", &team, "--prefix", &test.prefix]);

    let connection = Connection::connect(&url_as(&team), ConnectionProperties::default())
        .await
        .expect("the team's user connects");
    let own = channel(&connection).await;
    let queue = format!("{team}.lead-events");
    // Declared as the AsyncAPI document advises: a quorum queue with a dead-letter exchange of
    // the team's own and a delivery limit.
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from(b"quorum".to_vec())),
    );
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(LongString::from(format!("{team}.dlx").into_bytes())),
    );
    args.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongInt(5));
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    own.queue_declare(&queue, durable, args)
        .await
        .expect("its own queue");
    // The exchange is there: a passive declare (the AsyncAPI's advice) is allowed.
    own.exchange_declare(
        &events,
        lapin::ExchangeKind::Topic,
        lapin::options::ExchangeDeclareOptions {
            passive: true,
            ..lapin::options::ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("a passive declare of the events exchange");
    own.queue_bind(
        &queue,
        &events,
        "lead.updated.v1",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bound to a lead event");
    own.queue_bind(
        &queue,
        &events,
        "platform.changed.v1",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bound to a shop's status changes");

    // The module's commands stay internal.
    let other = channel(&connection).await;
    refused(
        other
            .queue_bind(
                &queue,
                &events,
                "sync.requested.v1",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await,
        "binding sync.requested.v1",
    );
    // No publishing on the events exchange: no forged event, no sync started.
    let publisher = channel(&connection).await;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let sent = publisher
        .basic_publish(
            &events,
            "lead.removed.v1",
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        )
        .await;
    let confirmed = match sent {
        Ok(confirm) => confirm.await.map(|_| ()),
        Err(e) => Err(e),
    };
    refused(confirmed, "publishing on the events exchange");
    // Nor the module's queues.
    let foreign = channel(&connection).await;
    refused(
        foreign
            .queue_declare(
                &format!("{}.sneaky", test.prefix),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await,
        "declaring a queue of the module's",
    );

    // What it may do works: the module's lead event reaches its queue.
    broker
        .publish(&OutgoingMessage {
            routing_key: "lead.updated.v1".into(),
            message_id: "lead-event-1".into(),
            payload: b"{}".to_vec(),
            headers: HashMap::new(),
        })
        .await
        .expect("publish");
    let reader = channel(&connection).await;
    let got = reader
        .basic_get(&queue, BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .expect("the event is in the team's queue");
    assert_eq!(
        got.delivery
            .properties
            .message_id()
            .as_ref()
            .map(ToString::to_string),
        Some("lead-event-1".to_owned())
    );

    let _ = connection.close(200, "done").await;
    // The team's queues are bounded by a policy of its own while it exists.
    let limits = format!("{team}-limits");
    assert!(policies().contains(&limits), "{}", policies());
    // Revoked with its queues: the user, its queues and the policy are gone.
    script(&["--team", &team, "--revoke", "--delete-queues"]);
    let admin = broker.consumer_channel().await.expect("admin channel");
    let gone = admin
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await;
    let error = format!("{:?}", gone.expect_err("the team's queue is deleted"));
    assert!(error.contains("NOT_FOUND"), "{error}");
    assert!(!policies().contains(&limits), "{}", policies());
    broker.close().await;
}

/// The broker's policies, as `rabbitmqctl` lists them.
fn policies() -> String {
    let output = Command::new("rabbitmqctl")
        .args(["-q", "list_policies", "--no-table-headers"])
        .output()
        .expect("rabbitmqctl list_policies");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
