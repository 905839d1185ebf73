//! `leadctl dlq` against the local RabbitMQ, each test under a prefix of its own
//! (`leadgen_test_support::TestBroker`). Messages dead-letter for real: published on the events
//! exchange, then rejected from sync-worker's queue without requeue, so the broker moves them
//! through the dead-letter exchange and sets `x-death` (what a consumer falls back to), or
//! dead-lettered with their cause as a consumer does (`Broker::dead_letter`).

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{BasicGetOptions, BasicPublishOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use leadctl::dlq::{self, DlqError, QueueCounts, Selection};
use leadgen_events::routing;
use leadgen_messaging::{Broker, OutgoingMessage, QueueSpec, Topology};
use leadgen_settings::{AmqpSettings, SecretString};
use leadgen_test_support::TestBroker;

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A prefix with both consumers' queues declared, and a connection to feed them.
struct Fixture {
    broker: Arc<Broker>,
    settings: AmqpSettings,
    topology: Topology,
    test_broker: TestBroker,
}

impl Fixture {
    async fn new() -> Self {
        let queues = vec![
            QueueSpec {
                consumer: "sync-worker",
                routing_keys: vec![routing::SYNC_REQUESTED_V1],
            },
            QueueSpec {
                consumer: "order-processor",
                routing_keys: vec![routing::ORDERS_FETCHED_V1],
            },
        ];
        let test_broker = TestBroker::new(queues.clone());
        let settings = test_broker.settings();
        let broker = Broker::connect(&settings, queues)
            .await
            .expect("connect to the test broker");
        let topology = broker.topology().clone();
        Fixture {
            broker,
            settings,
            topology,
            test_broker,
        }
    }

    async fn close(self) {
        self.broker.close().await;
        drop(self.test_broker);
    }

    async fn publish(&self, routing_key: &str, id: &str) {
        self.broker
            .publish(&OutgoingMessage {
                routing_key: routing_key.to_owned(),
                message_id: id.to_owned(),
                payload: payload(id),
                headers: HashMap::from([("traceparent".to_owned(), TRACEPARENT.to_owned())]),
            })
            .await
            .expect("publish");
    }

    /// Publishes `ids` for sync-worker and rejects them from its queue: they dead-letter.
    async fn dead_letter(&self, ids: &[&str]) {
        let before = self.dead_letters("sync-worker").await;
        for id in ids {
            self.publish(routing::SYNC_REQUESTED_V1, id).await;
        }
        let channel = self.channel().await;
        let queue = self.topology.queue("sync-worker");
        for id in ids {
            let delivery = get(&channel, &queue, false)
                .await
                .expect("a message to reject");
            assert_eq!(message_id(&delivery), *id);
            delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await
                .expect("reject");
        }
        self.wait_for_dead_letters("sync-worker", before + ids.len())
            .await;
    }

    /// Publishes straight into sync-worker's DLQ (no `x-death`), with `kind` as `type`.
    async fn stray(&self, id: &str, kind: Option<&str>) {
        let before = self.dead_letters("sync-worker").await;
        let mut properties = BasicProperties::default()
            .with_message_id(ShortString::from(id.to_owned()))
            .with_delivery_mode(2);
        if let Some(kind) = kind {
            properties = properties.with_type(ShortString::from(kind.to_owned()));
        }
        let channel = self.channel().await;
        channel
            .basic_publish(
                "",
                &self.topology.dead_letter_queue("sync-worker"),
                BasicPublishOptions::default(),
                &payload(id),
                properties,
            )
            .await
            .expect("publish into the DLQ");
        self.wait_for_dead_letters("sync-worker", before + 1).await;
    }

    async fn channel(&self) -> Channel {
        self.broker.consumer_channel().await.expect("a channel")
    }

    async fn counts(&self) -> Vec<QueueCounts> {
        dlq::list(&self.settings).await.expect("dlq list")
    }

    async fn dead_letters(&self, consumer: &str) -> usize {
        let rows = self.counts().await;
        let row = rows
            .iter()
            .find(|r| r.consumer == consumer)
            .expect("a row per consumer");
        row.dead_letters.counts.expect("the DLQ exists").messages as usize
    }

    /// Waits until the DLQ's count settles at `n` (dead-lettering and requeueing are
    /// asynchronous in quorum queues).
    async fn wait_for_dead_letters(&self, consumer: &str, n: usize) {
        for _ in 0..100 {
            if self.dead_letters(consumer).await == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{consumer}'s DLQ holds {} dead letters, not {n}",
            self.dead_letters(consumer).await
        );
    }

    /// Takes every ready message of `consumer`'s queue (auto-ack), in order.
    async fn drain_queue(&self, consumer: &str) -> Vec<Delivery> {
        let channel = self.channel().await;
        let queue = self.topology.queue(consumer);
        let mut taken = Vec::new();
        while let Some(delivery) = get(&channel, &queue, true).await {
            taken.push(delivery);
        }
        taken
    }

    async fn shown_ids(&self, limit: u32) -> Vec<String> {
        dlq::show(&self.settings, "sync-worker", limit)
            .await
            .expect("dlq show")
            .letters
            .into_iter()
            .map(|l| l.message_id.expect("a message id"))
            .collect()
    }
}

fn payload(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","type":"sync.requested"}}"#).into_bytes()
}

/// The next message of `queue`, waiting up to 2 s for one to become ready.
async fn get(channel: &Channel, queue: &str, no_ack: bool) -> Option<Delivery> {
    for _ in 0..20 {
        let got = channel
            .basic_get(queue, BasicGetOptions { no_ack })
            .await
            .expect("basic.get");
        if let Some(message) = got {
            return Some(message.delivery);
        }
        if no_ack {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn message_id(delivery: &Delivery) -> String {
    delivery
        .properties
        .message_id()
        .as_ref()
        .map(ToString::to_string)
        .expect("a message id")
}

fn header<'a>(delivery: &'a Delivery, key: &str) -> Option<&'a AMQPValue> {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(key))
}

#[tokio::test]
async fn list_counts_each_consumers_dead_letters_and_ready_messages() {
    let f = Fixture::new().await;
    f.dead_letter(&["s1", "s2", "s3"]).await;
    f.publish(routing::ORDERS_FETCHED_V1, "o1").await;

    let rows = f.counts().await;
    let sync = rows
        .iter()
        .find(|r| r.consumer == "sync-worker")
        .expect("row");
    assert_eq!(
        sync.dead_letters.name,
        format!("{}.sync-worker.dlq", f.settings.prefix)
    );
    assert_eq!(sync.dead_letters.counts.expect("exists").messages, 3);
    assert_eq!(sync.queue.counts.expect("exists").messages, 0);
    let orders = rows
        .iter()
        .find(|r| r.consumer == "order-processor")
        .expect("row");
    assert_eq!(orders.dead_letters.counts.expect("exists").messages, 0);
    assert_eq!(orders.queue.counts.expect("exists").messages, 1);
    let table = dlq::render_list(&rows);
    assert!(
        table.contains(&f.topology.dead_letter_queue("order-processor")),
        "{table}"
    );
    f.close().await;
}

#[tokio::test]
async fn show_leaves_the_dead_letters_in_place_and_in_order() {
    let f = Fixture::new().await;
    f.dead_letter(&["m1", "m2", "m3", "m4"]).await;

    let shown = dlq::show(&f.settings, "sync-worker", 10)
        .await
        .expect("show");
    assert_eq!(shown.total, 4);
    let letters = &shown.letters;
    let ids: Vec<_> = letters
        .iter()
        .filter_map(|l| l.message_id.clone())
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
    let first = &letters[0];
    assert_eq!(first.kind.as_deref(), Some(routing::SYNC_REQUESTED_V1));
    assert_eq!(
        first.routing_key.as_deref(),
        Some(routing::SYNC_REQUESTED_V1)
    );
    assert_eq!(first.first_death_reason.as_deref(), Some("rejected"));
    assert_eq!(first.body, payload("m1"));
    let death = first.deaths.first().expect("an x-death entry");
    assert_eq!(death.reason, "rejected");
    assert_eq!(death.count, 1);
    assert_eq!(death.queue, f.topology.queue("sync-worker"));
    assert_eq!(death.routing_keys, [routing::SYNC_REQUESTED_V1]);
    assert!(death.time.is_some());
    let printed = dlq::render_show(&shown, false);
    assert!(
        printed.contains("message id m1") && printed.contains("rejected"),
        "{printed}"
    );
    assert!(
        !printed.contains("\"id\""),
        "no body without --body: {printed}"
    );
    assert!(dlq::render_show(&shown, true).contains("\"id\": \"m1\""));

    f.wait_for_dead_letters("sync-worker", 4).await;
    let first_two = dlq::show(&f.settings, "sync-worker", 2)
        .await
        .expect("show --limit 2");
    assert_eq!(first_two.total, 4);
    let ids: Vec<_> = first_two
        .letters
        .iter()
        .filter_map(|l| l.message_id.clone())
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
    assert!(dlq::render_show(&first_two, false).starts_with("2 of 4 dead letters"));
    f.wait_for_dead_letters("sync-worker", 4).await;
    assert_eq!(f.shown_ids(10).await, ["m1", "m2", "m3", "m4"]);
    f.wait_for_dead_letters("sync-worker", 4).await;
    assert!(f.drain_queue("sync-worker").await.is_empty());
    f.close().await;
}

#[tokio::test]
async fn a_letter_the_consumer_dead_lettered_shows_why_and_replays_without_it() {
    let f = Fixture::new().await;
    f.publish(routing::SYNC_REQUESTED_V1, "c1").await;
    let channel = f.channel().await;
    let queue = f.topology.queue("sync-worker");
    let delivery = get(&channel, &queue, false).await.expect("the message");
    // As a consumer does when it gives up: the copy with the cause, then the ack.
    f.broker
        .dead_letter(&leadgen_messaging::dead_letter::Death {
            queue: &queue,
            body: &delivery.data,
            properties: &delivery.properties,
            reason: "事件无法解析：missing field `data`",
            deliveries: 1,
        })
        .await
        .expect("dead-letter");
    delivery
        .acker
        .ack(lapin::options::BasicAckOptions::default())
        .await
        .expect("ack");
    f.wait_for_dead_letters("sync-worker", 1).await;

    let shown = dlq::show(&f.settings, "sync-worker", 10)
        .await
        .expect("show");
    let letter = &shown.letters[0];
    let cause = letter.cause.as_ref().expect("the consumer's cause");
    assert_eq!(cause.reason, "事件无法解析：missing field `data`");
    assert_eq!(
        (cause.queue.as_str(), cause.deliveries),
        (queue.as_str(), 1)
    );
    assert!(cause.time.is_some());
    assert!(
        letter.deaths.is_empty(),
        "the broker did not dead-letter it"
    );
    let printed = dlq::render_show(&shown, false);
    assert!(
        printed.contains("after 1 deliveries") && printed.contains("事件无法解析"),
        "{printed}"
    );

    f.wait_for_dead_letters("sync-worker", 1).await;
    let report = dlq::replay(&f.settings, "sync-worker", &Selection::Id("c1".into()))
        .await
        .expect("replay --id");
    assert_eq!(report.replayed, ["c1"]);
    let back = f.drain_queue("sync-worker").await;
    assert_eq!(back.len(), 1);
    assert_eq!(message_id(&back[0]), "c1");
    assert_eq!(back[0].routing_key.as_str(), routing::SYNC_REQUESTED_V1);
    for key in [
        leadgen_messaging::dead_letter::DEATH_REASON,
        leadgen_messaging::dead_letter::DEATH_QUEUE,
        leadgen_messaging::dead_letter::DEATH_DELIVERIES,
        leadgen_messaging::dead_letter::DEATH_TIME,
    ] {
        assert!(header(&back[0], key).is_none(), "{key} replayed");
    }
    assert_eq!(
        header(&back[0], "traceparent"),
        Some(&AMQPValue::LongString(LongString::from(TRACEPARENT)))
    );
    f.close().await;
}

#[tokio::test]
async fn replay_moves_one_by_id_then_the_rest_back_with_key_id_and_headers() {
    let f = Fixture::new().await;
    f.dead_letter(&["m1", "m2", "m3", "m4"]).await;

    let report = dlq::replay(&f.settings, "sync-worker", &Selection::Id("m3".into()))
        .await
        .expect("replay --id");
    assert_eq!(report.replayed, ["m3"]);
    assert!(report.skipped.is_empty());
    f.wait_for_dead_letters("sync-worker", 3).await;
    let back = f.drain_queue("sync-worker").await;
    assert_eq!(back.len(), 1);
    let m3 = &back[0];
    assert_eq!(message_id(m3), "m3");
    assert_eq!(m3.routing_key.as_str(), routing::SYNC_REQUESTED_V1);
    assert_eq!(m3.exchange.as_str(), f.topology.events_exchange());
    assert_eq!(
        m3.properties.kind().as_ref().map(|k| k.as_str()),
        Some(routing::SYNC_REQUESTED_V1)
    );
    assert_eq!(
        m3.properties.content_type().as_ref().map(|c| c.as_str()),
        Some("application/cloudevents+json; charset=utf-8")
    );
    assert_eq!(
        header(m3, "traceparent"),
        Some(&AMQPValue::LongString(LongString::from(TRACEPARENT)))
    );
    assert!(header(m3, "x-death").is_none());
    assert!(header(m3, "x-first-death-reason").is_none());
    assert_eq!(m3.data, payload("m3"));
    assert_eq!(f.shown_ids(10).await, ["m1", "m2", "m4"]);

    f.wait_for_dead_letters("sync-worker", 3).await;
    let report = dlq::replay(
        &f.settings,
        "sync-worker",
        &Selection::All { limit: Some(1) },
    )
    .await
    .expect("replay --limit 1");
    assert_eq!(report.replayed, ["m1"]);
    f.wait_for_dead_letters("sync-worker", 2).await;
    let report = dlq::replay(&f.settings, "sync-worker", &Selection::All { limit: None })
        .await
        .expect("replay");
    assert_eq!(report.replayed, ["m2", "m4"]);
    f.wait_for_dead_letters("sync-worker", 0).await;
    let back: Vec<_> = f
        .drain_queue("sync-worker")
        .await
        .iter()
        .map(message_id)
        .collect();
    assert_eq!(back, ["m1", "m2", "m4"]);
    f.close().await;
}

#[tokio::test]
async fn replay_leaves_what_it_cannot_route_in_place_and_an_unknown_id_is_an_error() {
    let f = Fixture::new().await;
    f.dead_letter(&["m1"]).await;
    f.stray("other-key", Some(routing::LEAD_UPDATED_V1)).await;
    f.stray("no-key", None).await;
    f.dead_letter(&["m2"]).await;

    let report = dlq::replay(&f.settings, "sync-worker", &Selection::All { limit: None })
        .await
        .expect("replay");
    assert_eq!(report.replayed, ["m1", "m2"]);
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| s.message_id.as_str())
        .collect();
    assert_eq!(skipped, ["other-key", "no-key"]);
    assert!(report.skipped[0].reason.contains(routing::LEAD_UPDATED_V1));
    f.wait_for_dead_letters("sync-worker", 2).await;
    assert_eq!(f.shown_ids(10).await, ["other-key", "no-key"]);
    assert_eq!(f.drain_queue("sync-worker").await.len(), 2);

    f.wait_for_dead_letters("sync-worker", 2).await;
    let err = dlq::replay(&f.settings, "sync-worker", &Selection::Id("nope".into()))
        .await
        .expect_err("no such id");
    assert!(
        matches!(err, DlqError::NotFound { examined: 2, .. }),
        "{err}"
    );
    f.wait_for_dead_letters("sync-worker", 2).await;
    assert_eq!(f.shown_ids(10).await, ["other-key", "no-key"]);
    f.close().await;
}

#[tokio::test]
async fn purge_refuses_without_confirmation_then_empties_the_dlq() {
    let f = Fixture::new().await;
    f.dead_letter(&["m1", "m2"]).await;

    let err = dlq::purge(&f.settings, "sync-worker", false)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, DlqError::PurgeNotConfirmed { count: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--yes"), "{err}");
    assert_eq!(f.dead_letters("sync-worker").await, 2);

    let purged = dlq::purge(&f.settings, "sync-worker", true)
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    assert_eq!(f.dead_letters("sync-worker").await, 0);
    f.close().await;
}

#[tokio::test]
async fn unknown_queues_missing_topology_and_an_unreachable_broker_are_errors() {
    let f = Fixture::new().await;
    let err = dlq::show(&f.settings, "billing", 10)
        .await
        .expect_err("unknown");
    let message = err.to_string();
    assert!(
        message.contains("billing")
            && message.contains("sync-worker")
            && message.contains("order-processor"),
        "{message}"
    );

    let elsewhere = AmqpSettings {
        prefix: format!("{}-nothing-here", f.settings.prefix),
        ..f.settings.clone()
    };
    let err = dlq::show(&elsewhere, "sync-worker", 10)
        .await
        .expect_err("missing");
    assert!(matches!(err, DlqError::MissingQueue { .. }), "{err}");
    let rows = dlq::list(&elsewhere).await.expect("list");
    assert!(
        rows.iter()
            .all(|r| r.dead_letters.counts.is_none() && r.queue.counts.is_none())
    );

    let unreachable = AmqpSettings {
        url: SecretString::from("amqp://guest:guest@127.0.0.1:1/%2f".to_owned()),
        ..f.settings.clone()
    };
    let err = dlq::list(&unreachable).await.expect_err("unreachable");
    assert!(matches!(err, DlqError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    assert!(!err.to_string().contains("guest:guest"), "{err}");
    f.close().await;
}

/// The binary wires the functions to configuration (`LEADGEN__AMQP__*`) and exits non-zero on
/// errors.
#[tokio::test]
async fn the_cli_reads_the_configuration_and_fails_loudly() {
    let f = Fixture::new().await;
    f.dead_letter(&["m1"]).await;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let leadctl = |url: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_leadctl"))
            .env("LEADGEN_SHARED_CONFIG_DIR", repo.join("config"))
            .env("LEADGEN_CONFIG_DIR", repo.join("tools/leadctl/config"))
            .env("LEADGEN_ENV", "test")
            .env("LEADGEN__AMQP__URL", url)
            .env("LEADGEN__AMQP__PREFIX", &f.settings.prefix)
            .arg("dlq")
            .args(args)
            .output()
            .expect("run leadctl")
    };
    let url = leadgen_test_support::amqp_url();

    let listed = leadctl(&url, &["list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains(&f.topology.dead_letter_queue("sync-worker")),
        "{stdout}"
    );

    let shown = leadctl(&url, &["show", "--queue", "sync-worker", "--body"]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(String::from_utf8_lossy(&shown.stdout).contains("\"id\": \"m1\""));
    // `show` returns what it read; a quorum queue takes it back asynchronously.
    f.wait_for_dead_letters("sync-worker", 1).await;

    let refused = leadctl(&url, &["purge", "--queue", "sync-worker"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to purge 1"));

    let unknown = leadctl(&url, &["show", "--queue", "billing"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown queue `billing`"));

    let down = leadctl("amqp://guest:guest@127.0.0.1:1/%2f", &["list"]);
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot connect to the broker"));
    f.close().await;
}
