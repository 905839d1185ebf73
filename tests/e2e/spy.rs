//! A test's own queues on the events exchange: what was published, and re-publishing it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// One captured message.
#[derive(Clone)]
pub struct Captured {
    pub routing_key: String,
    pub message_id: String,
    pub body: Vec<u8>,
}

pub struct Spy {
    prefix: String,
    /// The routing key of [`Spy::caught_up`]'s markers, bound to this spy's queue only.
    marker_key: String,
    channel: Channel,
    _connection: Connection,
    seen: Arc<Mutex<Vec<Captured>>>,
}

impl Spy {
    pub async fn bind(prefix: &str, keys: &[&str]) -> Spy {
        let props = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(&leadgen_test_support::amqp_url(), props)
            .await
            .expect("spy connection");
        let channel = connection.create_channel().await.expect("spy channel");
        let queue = format!("{prefix}.e2e-spy");
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(&queue, options, FieldTable::default())
            .await
            .expect("spy queue");
        let marker_key = format!("e2e-spy.marker.{}", uuid::Uuid::new_v4().simple());
        for key in keys.iter().copied().chain([marker_key.as_str()]) {
            channel
                .queue_bind(
                    &queue,
                    &format!("{prefix}.events"),
                    key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("spy bind");
        }
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut consumer = channel
            .basic_consume(&queue, "e2e-spy", consume, FieldTable::default())
            .await
            .expect("spy consume");
        let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let captured = Captured {
                    routing_key: d.routing_key.to_string(),
                    message_id: d
                        .properties
                        .message_id()
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    body: d.data.clone(),
                };
                sink.lock().expect("spy lock").push(captured);
            }
        });
        Spy {
            prefix: prefix.to_owned(),
            marker_key,
            channel,
            _connection: connection,
            seen,
        }
    }

    fn of(&self, key: &str) -> Vec<Captured> {
        self.seen
            .lock()
            .expect("spy lock")
            .iter()
            .filter(|c| c.routing_key == key)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, key: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.of(key).len() < count {
            assert!(
                Instant::now() < deadline,
                "no {key} message within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The envelopes captured under `key`, in arrival order.
    pub fn events(&self, key: &str) -> Vec<serde_json::Value> {
        self.of(key)
            .iter()
            .map(|c| serde_json::from_slice(&c.body).expect("event JSON"))
            .collect()
    }

    /// Every captured event that its committed JSON Schema (`proto-events/schemas/`) refuses,
    /// with why: what other teams' consumers validate against is what the services publish.
    /// Formats (`date-time`, `uuid`) are checked too.
    pub fn schema_violations(&self) -> Vec<String> {
        use leadgen_events::{
            Event, LeadIdentifiedV1, LeadIdentifiedV2, LeadRemovedV1, LeadUpdatedV1,
            PlatformChangedV1, RawOrdersFetchedV1, SyncRequestedV1,
        };
        fn entry<E: Event>() -> (&'static str, &'static str) {
            (E::ROUTING_KEY, E::SCHEMA_FILE)
        }
        let schemas = [
            entry::<SyncRequestedV1>(),
            entry::<RawOrdersFetchedV1>(),
            entry::<LeadIdentifiedV1>(),
            entry::<LeadIdentifiedV2>(),
            entry::<LeadUpdatedV1>(),
            entry::<LeadRemovedV1>(),
            entry::<PlatformChangedV1>(),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto-events/schemas");
        let seen = self.seen.lock().expect("spy").clone();
        // Each schema read and compiled once, for every event of its routing key.
        let validators: std::collections::HashMap<&str, jsonschema::Validator> = schemas
            .iter()
            .map(|(key, file)| {
                let schema: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(root.join(file)).expect("schema file"))
                        .expect("schema JSON");
                let validator = jsonschema::draft7::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .expect("schema compiles");
                (*key, validator)
            })
            .collect();
        let mut violations = Vec::new();
        for captured in seen.iter().filter(|c| c.routing_key != self.marker_key) {
            let Some(validator) = validators.get(captured.routing_key.as_str()) else {
                violations.push(format!("{}: no committed schema", captured.routing_key));
                continue;
            };
            let event: serde_json::Value = serde_json::from_slice(&captured.body).expect("event");
            violations.extend(validator.iter_errors(&event).map(|e| {
                format!(
                    "{} {}: {} at {}",
                    captured.routing_key,
                    captured.message_id,
                    e,
                    e.instance_path()
                )
            }));
        }
        violations
    }

    /// Returns once the spy has received everything the broker took before this call: a marker
    /// published now reaches the spy's queue after every message already in it, and the spy
    /// reads its queue in order. After the outbox is empty (every event confirmed), nothing
    /// published is then still on its way.
    pub async fn caught_up(&self) {
        let marker = uuid::Uuid::new_v4().to_string();
        self.channel
            .basic_publish(
                &format!("{}.events", self.prefix),
                &self.marker_key,
                BasicPublishOptions::default(),
                b"{}",
                BasicProperties::default().with_message_id(marker.clone().into()),
            )
            .await
            .expect("marker")
            .await
            .expect("marker sent");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .of(&self.marker_key)
            .iter()
            .any(|c| c.message_id == marker)
        {
            assert!(Instant::now() < deadline, "the spy's marker never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Lead ids announced by LeadIdentified events (duplicates kept, to be detected), of what
    /// the broker took so far.
    pub async fn lead_ids(&self) -> Vec<i64> {
        self.caught_up().await;
        self.of("lead.identified.v1")
            .iter()
            .map(|c| {
                let v: serde_json::Value = serde_json::from_slice(&c.body).expect("event JSON");
                v["data"]["leadId"].as_i64().expect("leadId")
            })
            .collect()
    }

    /// The lead ids announced by `LeadIdentified` v2 (buyer-leads), of what the broker took so
    /// far.
    pub async fn buyer_lead_ids(&self) -> Vec<i64> {
        self.caught_up().await;
        self.of("lead.identified.v2")
            .iter()
            .map(|c| {
                let v: serde_json::Value = serde_json::from_slice(&c.body).expect("event JSON");
                v["data"]["lead"]["leadId"].as_i64().expect("leadId")
            })
            .collect()
    }

    /// Publishes the first captured `key` message again, with the same message id.
    pub async fn republish_first(&self, key: &str) {
        let first = self.of(key).into_iter().next().expect("a captured message");
        let props = BasicProperties::default()
            .with_message_id(first.message_id.clone().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        self.channel
            .basic_publish(
                &format!("{}.events", self.prefix),
                key,
                BasicPublishOptions::default(),
                &first.body,
                props,
            )
            .await
            .expect("republish")
            .await
            .expect("confirm");
    }

    /// Messages in the dead-letter queues.
    pub async fn dead_letters(&self) -> u32 {
        let mut total = 0;
        for consumer in ["sync-worker", "order-processor"] {
            let options = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            let q = self
                .channel
                .queue_declare(
                    &format!("{}.{consumer}.dlq", self.prefix),
                    options,
                    FieldTable::default(),
                )
                .await
                .expect("dlq");
            total += q.message_count();
        }
        total
    }
}
