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
        let mut events_args = FieldTable::default();
        events_args.insert(
            ShortString::from("alternate-exchange"),
            long_string(&unrouted),
        );
        channel
            .exchange_declare(
                &self.events_exchange(),
                ExchangeKind::Topic,
                durable,
                events_args,
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

        let mut dlq_args = FieldTable::default();
        dlq_args.insert(ShortString::from("x-queue-type"), long_string("quorum"));
        channel.queue_declare(&dlq, options, dlq_args).await?;
        channel
            .queue_bind(
                &dlq,
                &self.dead_letter_exchange(),
                &queue,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

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
            long_string(&queue),
        );
        channel.queue_declare(&queue, options, args).await?;
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

fn long_string(text: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(text.as_bytes().to_vec()))
}
