//! Names and declarations of exchanges and queues.
//!
//! | name | kind | purpose |
//! |---|---|---|
//! | `{prefix}.events` | topic exchange | every event, routing key `<aggregate>.<past tense>.v<N>` |
//! | `{prefix}.unrouted` | fanout exchange | the events exchange's alternate exchange: an event no queue is bound for yet (`lead.identified.v1` before another team subscribes) goes here instead of being refused |
//! | `{prefix}.unrouted.parked` | quorum queue | keeps those events for inspection, bounded: at most [`UNROUTED_MAX_LENGTH`] (the oldest dropped first) and [`UNROUTED_TTL_MS`] each |
//! | `{prefix}.dlx` | direct exchange | dead letters, routed by the queue's name |
//! | `{prefix}.{consumer}` | quorum queue | one per consuming service, `x-delivery-limit` |
//! | `{prefix}.{consumer}.dlq` | quorum queue | what that consumer gave up on |

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// The most unrouted events parked (the oldest are dropped beyond it).
pub const UNROUTED_MAX_LENGTH: i64 = 100_000;
/// How long an unrouted event stays parked: seven days.
pub const UNROUTED_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// The arguments of the parked-unrouted queue (redeclaring with others is refused by the
/// broker, which is how a test checks them).
pub fn parked_queue_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), long_string("quorum"));
    args.insert(
        ShortString::from("x-max-length"),
        AMQPValue::LongLongInt(UNROUTED_MAX_LENGTH),
    );
    args.insert(
        ShortString::from("x-message-ttl"),
        AMQPValue::LongLongInt(UNROUTED_TTL_MS),
    );
    args
}

/// A consuming service's queue and the routing keys it binds.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// e.g. `sync-worker`; the queue is `{prefix}.sync-worker`.
    pub consumer: &'static str,
    pub routing_keys: Vec<&'static str>,
}

/// The names derived from one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
    pub delivery_limit: u32,
}

impl Topology {
    /// The name the broker lists a process's connection by: the prefix for the one that
    /// publishes, with ` consume` after it for the one that receives deliveries.
    pub fn connection_name_of(prefix: &str, consuming: bool) -> String {
        if consuming {
            format!("{prefix} consume")
        } else {
            prefix.to_owned()
        }
    }

    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn unrouted(&self) -> String {
        format!("{}.unrouted", self.prefix)
    }

    /// Where unrouted events are parked (bounded by length and age).
    pub fn unrouted_parked(&self) -> String {
        format!("{}.unrouted.parked", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    pub fn queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}", self.prefix)
    }

    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}.dlq", self.prefix)
    }

    /// The events exchange's arguments: unroutable events go to the alternate exchange.
    fn events_exchange_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("alternate-exchange"),
            long_string(&self.unrouted()),
        );
        args
    }

    /// A consumer's queue's arguments: quorum, its delivery limit, dead letters to the DLX
    /// routed by the queue's name.
    fn consumer_queue_args(&self, consumer: &str) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(ShortString::from("x-queue-type"), long_string("quorum"));
        args.insert(
            ShortString::from("x-delivery-limit"),
            AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
        );
        args.insert(
            ShortString::from("x-dead-letter-exchange"),
            long_string(&self.dead_letter_exchange()),
        );
        args.insert(
            ShortString::from("x-dead-letter-routing-key"),
            long_string(&self.queue(consumer)),
        );
        args
    }

    /// What [`Topology::declare`] creates for `queues`, in RabbitMQ's definitions format (vhost
    /// `/`): what `deploy/rabbitmq/definitions.json` must hold, for operators who import the
    /// topology and for the KEDA ScaledObjects' queue names (`k8s/check.py` reads the file).
    pub fn definitions(&self, queues: &[QueueSpec]) -> serde_json::Value {
        use serde_json::json;
        let exchange = |name: String, kind: &str, args: FieldTable| {
            json!({"name": name, "vhost": "/", "type": kind, "durable": true,
                   "auto_delete": false, "internal": false, "arguments": args_json(&args)})
        };
        let queue = |name: String, args: FieldTable| {
            json!({"name": name, "vhost": "/", "durable": true, "auto_delete": false,
                   "arguments": args_json(&args)})
        };
        let binding = |source: String, destination: String, key: &str| {
            json!({"source": source, "vhost": "/", "destination": destination,
                   "destination_type": "queue", "routing_key": key, "arguments": {}})
        };
        let mut queue_list = vec![queue(self.unrouted_parked(), parked_queue_args())];
        let mut bindings = vec![binding(self.unrouted(), self.unrouted_parked(), "")];
        for spec in queues {
            let name = self.queue(spec.consumer);
            let dlq = self.dead_letter_queue(spec.consumer);
            queue_list.push(queue(name.clone(), self.consumer_queue_args(spec.consumer)));
            queue_list.push(queue(dlq.clone(), dead_letter_queue_args()));
            for key in &spec.routing_keys {
                bindings.push(binding(self.events_exchange(), name.clone(), key));
            }
            bindings.push(binding(self.dead_letter_exchange(), dlq, &name));
        }
        json!({
            "vhosts": [{"name": "/"}],
            "exchanges": [
                exchange(self.events_exchange(), "topic", self.events_exchange_args()),
                exchange(self.unrouted(), "fanout", FieldTable::default()),
                exchange(self.dead_letter_exchange(), "direct", FieldTable::default()),
            ],
            "queues": queue_list,
            "bindings": bindings,
        })
    }

    /// How `committed` (a definitions file, as [`Topology::definitions`] writes them) differs
    /// from what the code declares for `queues`: each of their queues and bindings it lacks,
    /// and each it holds for those queues that the code does not declare (a routing key no
    /// longer bound, say). Empty when they agree.
    pub fn drift_from(&self, committed: &serde_json::Value, queues: &[QueueSpec]) -> Vec<String> {
        let ours = self.definitions(queues);
        let names: Vec<String> = queues
            .iter()
            .flat_map(|q| [self.queue(q.consumer), self.dead_letter_queue(q.consumer)])
            .collect();
        let concerns = |item: &serde_json::Value| {
            ["name", "destination"].iter().any(|k| {
                item[*k]
                    .as_str()
                    .is_some_and(|n| names.iter().any(|m| m == n))
            })
        };
        let mut drift = Vec::new();
        for key in ["queues", "bindings"] {
            let held = committed[key].as_array().cloned().unwrap_or_default();
            let declared = ours[key].as_array().cloned().unwrap_or_default();
            drift.extend(
                declared
                    .iter()
                    .filter(|item| !held.contains(item))
                    .map(|item| format!("missing: {item}")),
            );
            drift.extend(
                held.iter()
                    .filter(|item| concerns(item) && !declared.contains(item))
                    .map(|item| format!("not declared by the code: {item}")),
            );
        }
        drift
    }

    /// Declares the exchanges and the queues of `queues` (idempotent).
    pub async fn declare(&self, channel: &Channel, queues: &[QueueSpec]) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let unrouted = self.unrouted();
        channel
            .exchange_declare(
                &unrouted,
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        let queue_options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let parked = self.unrouted_parked();
        channel
            .queue_declare(&parked, queue_options, parked_queue_args())
            .await?;
        channel
            .queue_bind(
                &parked,
                &unrouted,
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // Earlier versions parked into `{prefix}.unrouted` without an age bound; its events
        // were never consumed. Deleting a queue that does not exist is a no-op.
        channel
            .queue_delete(&unrouted, QueueDeleteOptions::default())
            .await?;
        channel
            .exchange_declare(
                &self.events_exchange(),
                ExchangeKind::Topic,
                durable,
                self.events_exchange_args(),
            )
            .await?;
        channel
            .exchange_declare(
                &self.dead_letter_exchange(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        for spec in queues {
            self.declare_queue(channel, spec).await?;
        }
        Ok(())
    }

    async fn declare_queue(&self, channel: &Channel, spec: &QueueSpec) -> lapin::Result<()> {
        let queue = self.queue(spec.consumer);
        let dlq = self.dead_letter_queue(spec.consumer);
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };

        channel
            .queue_declare(&dlq, options, dead_letter_queue_args())
            .await?;
        channel
            .queue_bind(
                &dlq,
                &self.dead_letter_exchange(),
                &queue,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        channel
            .queue_declare(&queue, options, self.consumer_queue_args(spec.consumer))
            .await?;
        for key in &spec.routing_keys {
            channel
                .queue_bind(
                    &queue,
                    &self.events_exchange(),
                    key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Deletes everything [`Topology::declare`] created for `queues` (test clean-up).
    pub async fn delete(&self, channel: &Channel, queues: &[QueueSpec]) -> lapin::Result<()> {
        for spec in queues {
            channel
                .queue_delete(&self.queue(spec.consumer), QueueDeleteOptions::default())
                .await?;
            channel
                .queue_delete(
                    &self.dead_letter_queue(spec.consumer),
                    QueueDeleteOptions::default(),
                )
                .await?;
        }
        channel
            .queue_delete(&self.unrouted_parked(), QueueDeleteOptions::default())
            .await?;
        channel
            .exchange_delete(&self.unrouted(), ExchangeDeleteOptions::default())
            .await?;
        channel
            .exchange_delete(&self.events_exchange(), ExchangeDeleteOptions::default())
            .await?;
        channel
            .exchange_delete(
                &self.dead_letter_exchange(),
                ExchangeDeleteOptions::default(),
            )
            .await?;
        Ok(())
    }
}

/// A dead-letter queue's arguments.
fn dead_letter_queue_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), long_string("quorum"));
    args
}

/// Queue or exchange arguments as the definitions format writes them (the kinds used here).
fn args_json(args: &FieldTable) -> serde_json::Value {
    let fields = args.inner().iter().map(|(name, value)| {
        let value = match value {
            AMQPValue::LongString(s) => {
                serde_json::Value::from(String::from_utf8_lossy(s.as_bytes()).into_owned())
            }
            AMQPValue::LongLongInt(n) => serde_json::Value::from(*n),
            AMQPValue::LongInt(n) => serde_json::Value::from(*n),
            AMQPValue::ShortString(s) => serde_json::Value::from(s.as_str()),
            AMQPValue::Boolean(b) => serde_json::Value::from(*b),
            other => serde_json::Value::from(format!("{other:?}")),
        };
        (name.as_str().to_owned(), value)
    });
    serde_json::Value::Object(fields.collect())
}

fn long_string(text: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(text.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed definitions hold exactly what the code declares for the consumers they
    /// name (each queue with its dead-letter queue and bindings), with `config/base.toml`'s
    /// prefix and delivery limit. Each service's own test checks that its queue is there.
    #[test]
    fn the_committed_definitions_are_what_the_code_declares() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../../deploy/rabbitmq/definitions.json"))
                .expect("definitions.json");
        let topology = Topology {
            prefix: "leadgen".into(),
            delivery_limit: 5,
        };
        // The consumers the file names, with the routing keys it binds them to.
        let mut specs: Vec<QueueSpec> = Vec::new();
        for q in file["queues"].as_array().expect("queues") {
            let name = q["name"].as_str().expect("name");
            let Some(consumer) = name.strip_prefix("leadgen.") else {
                panic!("{name}: not under the prefix");
            };
            if consumer.ends_with(".dlq") || consumer == "unrouted.parked" {
                continue;
            }
            let consumer: &'static str = Box::leak(consumer.to_owned().into_boxed_str());
            let routing_keys = file["bindings"]
                .as_array()
                .expect("bindings")
                .iter()
                .filter(|b| b["destination"] == name && b["source"] == "leadgen.events")
                .map(|b| {
                    &*Box::leak(
                        b["routing_key"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                            .into_boxed_str(),
                    )
                })
                .collect();
            specs.push(QueueSpec {
                consumer,
                routing_keys,
            });
        }
        assert!(specs.len() >= 2, "{specs:?}");
        let ours = topology.definitions(&specs);
        for key in ["vhosts", "exchanges", "queues", "bindings"] {
            let mut theirs = file[key].as_array().cloned().unwrap_or_default();
            let mut mine = ours[key].as_array().cloned().unwrap_or_default();
            let by_text =
                |a: &serde_json::Value, b: &serde_json::Value| a.to_string().cmp(&b.to_string());
            theirs.sort_by(by_text);
            mine.sort_by(by_text);
            assert_eq!(theirs, mine, "{key} differ from Topology::definitions");
        }
    }
}
