//! `leadctl dlq list|show|replay|purge`: operators' handle on each consumer's dead-letter queue.
//!
//! A consumer's queue `{prefix}.{consumer}` dead-letters through `{prefix}.dlx` into
//! `{prefix}.{consumer}.dlq` when the consumer rejects a message or the queue's
//! `x-delivery-limit` runs out (`leadgen_messaging::topology`). These commands only read the
//! topology (passive declares): they never create a queue, so a wrong `amqp.prefix` is reported
//! instead of silently declaring a second topology.
//!
//! - [`list`]: per consumer, the ready messages of its DLQ and of its queue.
//! - [`show`]: the first N dead letters, read with `basic.get` and put back.
//! - [`replay`]: republish each dead letter on `{prefix}.events` with its original routing key and
//!   properties, wait for the publisher confirm, and only then ack it in the DLQ. A failure after
//!   the confirm but before the ack leaves a copy in the DLQ (at least once; consumers dedupe on
//!   the message id).
//! - [`purge`]: refused unless confirmed.
//!
//! **Order.** AMQP has no peek: reading a message takes it, and `basic.nack` with `requeue` is
//! the only way to put it back. Where a quorum queue puts a returned message depends on the
//! broker: RabbitMQ 3.10 appends it to the back of a queue without a delivery limit, as the DLQs
//! are (so "read N, nack N" would rotate the DLQ); with a delivery limit it goes back to the head.
//! So a command that puts anything back first reads on to the end of the DLQ (as counted when it
//! started), holding every message, and then nacks them one by one in the order read: wherever
//! the broker puts returns, the DLQ ends in its original order. `show` therefore reads the whole
//! DLQ (it keeps only the first N messages); `replay` holds nothing, and stops at its limit,
//! unless a message has to stay. A message dead-lettered while a command runs may end up ahead
//! of the ones the command put back. Before RabbitMQ 4.3 every put-back counts as a delivery
//! (`x-delivery-count`), and from 4.0 a quorum queue without an explicit `x-delivery-limit`
//! gets a default of 20 and drops a message beyond it: on 4.0–4.2, give the DLQs an unlimited
//! delivery limit before using `show` or `replay --id` routinely.
//!
//! **Replay routing.** The routing key is the `type` property (the publisher sets it to the
//! routing key), else the first `x-death` entry's first `routing-keys`. A topic exchange delivers
//! to every queue bound to that key and the events exchange's alternate exchange swallows what no
//! queue binds, so a message whose key the consumer does not bind (per [`CONSUMERS`]) is left in
//! the DLQ and reported instead of being published.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat};
use clap::Subcommand;
use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use leadgen_events::routing;
use leadgen_messaging::Topology;
use leadgen_settings::{AmqpSettings, ExposeSecret, Sources};
use serde::Deserialize;

/// How long to wait for the broker to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A consuming service with a dead-letter queue, and the routing keys its queue binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer {
    pub name: &'static str,
    pub routing_keys: &'static [&'static str],
}

/// The consumers, as their `startup::queue()` declares them (sync-worker, order-processor).
pub const CONSUMERS: &[Consumer] = &[
    Consumer {
        name: "sync-worker",
        routing_keys: &[routing::SYNC_REQUESTED_V1],
    },
    Consumer {
        name: "order-processor",
        routing_keys: &[routing::ORDERS_FETCHED_V1],
    },
];

/// Why a dead-letter operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("unknown queue `{given}`; the consumers with a dead-letter queue are: {known}")]
    UnknownQueue { given: String, known: String },
    #[error("cannot connect to the broker at {broker}: {reason}")]
    Unreachable { broker: String, reason: String },
    #[error("queue `{queue}` does not exist on the broker (is amqp.prefix `{prefix}` right?)")]
    MissingQueue { queue: String, prefix: String },
    #[error("no dead letter with message id `{id}` among the {examined} in `{queue}`")]
    NotFound {
        id: String,
        queue: String,
        examined: u32,
    },
    #[error(
        "replayed {replayed}, then publishing message `{message_id}` failed ({reason}); it and \
         the rest stay in `{queue}`"
    )]
    Publish {
        queue: String,
        replayed: u32,
        message_id: String,
        reason: PublishFailure,
    },
    #[error("refusing to purge {count} dead letters from `{queue}` without --yes")]
    PurgeNotConfirmed { queue: String, count: u32 },
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
}

/// Why the broker did not take a republished message.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailure {
    #[error("the broker refused it (nack)")]
    Nacked,
    #[error("no queue is bound for its routing key")]
    Unroutable,
    #[error("no publisher confirm within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("{0}")]
    Broker(#[from] lapin::Error),
}

/// `leadctl dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Each consumer's dead-letter queue and queue, with their ready messages.
    List,
    /// Print the first dead letters of a consumer without removing them (order kept).
    Show {
        /// The consumer: sync-worker or order-processor.
        #[arg(long)]
        queue: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Also print each message's body.
        #[arg(long)]
        body: bool,
    },
    /// Republish dead letters on the events exchange (confirmed), then remove them from the DLQ.
    Replay {
        /// The consumer: sync-worker or order-processor.
        #[arg(long)]
        queue: String,
        /// At most this many (default: every dead letter there when the command starts).
        #[arg(long)]
        limit: Option<u32>,
        /// Only the dead letter with this message id; the others stay, in order.
        #[arg(long, conflicts_with = "limit")]
        id: Option<String>,
    },
    /// Delete every dead letter of a consumer.
    Purge {
        /// The consumer: sync-worker or order-processor.
        #[arg(long)]
        queue: String,
        /// Really purge (without it: print the count and refuse).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Deserialize)]
struct AmqpOnly {
    amqp: AmqpSettings,
}

/// Runs `command` against the configured broker and prints its outcome.
pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    let settings: AmqpOnly =
        leadgen_settings::load(&Sources::from_env()).context("loading configuration")?;
    let settings = settings.amqp;
    match command {
        DlqCommand::List => print!("{}", render_list(&list(&settings).await?)),
        DlqCommand::Show { queue, limit, body } => {
            let shown = show(&settings, &queue, limit).await?;
            print!("{}", render_show(&shown, body));
        }
        DlqCommand::Replay { queue, limit, id } => {
            let selection = match id {
                Some(id) => Selection::Id(id),
                None => Selection::All { limit },
            };
            let report = replay(&settings, &queue, &selection).await?;
            print!("{}", render_replay(&report));
            if !report.skipped.is_empty() {
                anyhow::bail!(
                    "{} dead letters could not be replayed and stay in the DLQ",
                    report.skipped.len()
                );
            }
        }
        DlqCommand::Purge { queue, yes } => {
            let purged = purge(&settings, &queue, yes).await?;
            println!("purged {purged} dead letters");
        }
    }
    Ok(())
}

/// The consumer `given` names: `sync-worker`, or its queue's or DLQ's full name.
pub fn consumer(given: &str, prefix: &str) -> Result<&'static Consumer, DlqError> {
    let name = given.strip_suffix(".dlq").unwrap_or(given);
    let name = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(name);
    CONSUMERS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| DlqError::UnknownQueue {
            given: given.to_owned(),
            known: CONSUMERS
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A queue's ready messages and consumers, or `None` when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStat {
    pub name: String,
    pub counts: Option<Counts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Ready messages (those delivered and not yet acknowledged are not counted).
    pub messages: u32,
    pub consumers: u32,
}

/// One row of `dlq list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCounts {
    pub consumer: &'static str,
    pub dead_letters: QueueStat,
    pub queue: QueueStat,
}

/// Per consumer, its DLQ's and its queue's counts.
pub async fn list(settings: &AmqpSettings) -> Result<Vec<QueueCounts>, DlqError> {
    let session = Session::open(settings).await?;
    let result = session.list().await;
    session.close().await;
    result
}

/// What `show` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The first dead letters, in order.
    pub letters: Vec<DeadLetter>,
    /// How many dead letters the DLQ held.
    pub total: u32,
}

/// The first `limit` dead letters of `queue`, left in the DLQ in their order.
pub async fn show(settings: &AmqpSettings, queue: &str, limit: u32) -> Result<Shown, DlqError> {
    let consumer = consumer(queue, &settings.prefix)?;
    let session = Session::open(settings).await?;
    let result = session.show(consumer, limit).await;
    session.close().await;
    result
}

/// Which dead letters to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// From the head, at most `limit` (default: those there when the command starts).
    All { limit: Option<u32> },
    /// Only the (first) dead letter with this message id.
    Id(String),
}

/// What `replay` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Dead letters read from the DLQ.
    pub examined: u32,
    /// The message ids republished and removed, in order (`-` for a message without one).
    pub replayed: Vec<String>,
    /// Dead letters left in the DLQ because they cannot be replayed.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub message_id: String,
    pub reason: String,
}

/// Republishes the `selection` of `queue`'s dead letters for processing.
pub async fn replay(
    settings: &AmqpSettings,
    queue: &str,
    selection: &Selection,
) -> Result<ReplayReport, DlqError> {
    let consumer = consumer(queue, &settings.prefix)?;
    let session = Session::open(settings).await?;
    let result = session.replay(consumer, selection).await;
    session.close().await;
    result
}

/// Purges `queue`'s DLQ and returns how many dead letters it held; without `confirmed`, only
/// counts them and refuses ([`DlqError::PurgeNotConfirmed`]).
pub async fn purge(settings: &AmqpSettings, queue: &str, confirmed: bool) -> Result<u32, DlqError> {
    let consumer = consumer(queue, &settings.prefix)?;
    let session = Session::open(settings).await?;
    let result = session.purge(consumer, confirmed).await;
    session.close().await;
    result
}

/// One connection for one command.
struct Session {
    connection: Connection,
    topology: Topology,
    confirm_timeout: Duration,
}

impl Session {
    async fn open(settings: &AmqpSettings) -> Result<Self, DlqError> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio)
            .with_connection_name(LongString::from(b"leadctl".to_vec()));
        let url = settings.url.expose_secret();
        let unreachable = |reason: String| DlqError::Unreachable {
            broker: describe_broker(url),
            reason,
        };
        let connection =
            match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties)).await
            {
                Err(_) => return Err(unreachable(format!("no answer within {CONNECT_TIMEOUT:?}"))),
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Ok(Ok(connection)) => connection,
            };
        Ok(Session {
            connection,
            topology: Topology {
                prefix: settings.prefix.clone(),
                delivery_limit: settings.delivery_limit,
            },
            confirm_timeout: Duration::from_millis(settings.confirm_timeout_ms),
        })
    }

    async fn close(self) {
        let _ = self.connection.close(200, "leadctl done").await;
    }

    /// `queue`'s counts on a channel of its own (a missing queue closes the channel).
    async fn stat(&self, queue: String) -> Result<QueueStat, DlqError> {
        let channel = self.connection.create_channel().await?;
        match passive_declare(&channel, &queue).await {
            Ok(counts) => {
                let _ = channel.close(200, "done").await;
                Ok(QueueStat {
                    name: queue,
                    counts: Some(counts),
                })
            }
            Err(e) if is_not_found(&e) => Ok(QueueStat {
                name: queue,
                counts: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<QueueCounts>, DlqError> {
        let mut rows = Vec::with_capacity(CONSUMERS.len());
        for consumer in CONSUMERS {
            rows.push(QueueCounts {
                consumer: consumer.name,
                dead_letters: self
                    .stat(self.topology.dead_letter_queue(consumer.name))
                    .await?,
                queue: self.stat(self.topology.queue(consumer.name)).await?,
            });
        }
        Ok(rows)
    }

    /// A channel on which `consumer`'s DLQ is known to exist, and its ready messages.
    async fn dead_letter_channel(&self, consumer: &Consumer) -> Result<(Channel, u32), DlqError> {
        let queue = self.topology.dead_letter_queue(consumer.name);
        let channel = self.connection.create_channel().await?;
        match passive_declare(&channel, &queue).await {
            Ok(counts) => Ok((channel, counts.messages)),
            Err(e) if is_not_found(&e) => Err(DlqError::MissingQueue {
                queue,
                prefix: self.topology.prefix.clone(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn show(&self, consumer: &Consumer, limit: u32) -> Result<Shown, DlqError> {
        let (channel, count) = self.dead_letter_channel(consumer).await?;
        let queue = self.topology.dead_letter_queue(consumer.name);
        let mut cursor = Cursor::new(&channel, &queue, count);
        let mut letters = Vec::new();
        while letters.len() < usize::try_from(limit).unwrap_or(usize::MAX) {
            let Some(delivery) = cursor.next().await? else {
                break;
            };
            letters.push(DeadLetter::read(&delivery));
            cursor.hold(&delivery);
        }
        let read = cursor.put_back().await?;
        let _ = channel.close(200, "done").await;
        Ok(Shown {
            letters,
            total: read.max(count),
        })
    }

    async fn replay(
        &self,
        consumer: &Consumer,
        selection: &Selection,
    ) -> Result<ReplayReport, DlqError> {
        let (channel, count) = self.dead_letter_channel(consumer).await?;
        let publisher = self.connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let queue = self.topology.dead_letter_queue(consumer.name);
        let mut cursor = Cursor::new(&channel, &queue, count);
        let pass = self
            .replay_from(&mut cursor, &publisher, consumer, selection)
            .await;
        let put_back = cursor.put_back().await;
        let _ = publisher.close(200, "done").await;
        let _ = channel.close(200, "done").await;
        let ReplayPass { report, failure } = pass?;
        put_back?;
        if let Some((message_id, reason)) = failure {
            return Err(DlqError::Publish {
                queue,
                replayed: u32::try_from(report.replayed.len()).unwrap_or(u32::MAX),
                message_id,
                reason,
            });
        }
        match selection {
            Selection::Id(id) if report.replayed.is_empty() && report.skipped.is_empty() => {
                Err(DlqError::NotFound {
                    id: id.clone(),
                    queue,
                    examined: report.examined,
                })
            }
            Selection::Id(_) | Selection::All { .. } => Ok(report),
        }
    }

    /// Replays from the cursor until `selection` is done, the budget is spent or a publish fails.
    async fn replay_from(
        &self,
        cursor: &mut Cursor<'_>,
        publisher: &Channel,
        consumer: &Consumer,
        selection: &Selection,
    ) -> Result<ReplayPass, DlqError> {
        let mut report = ReplayReport::default();
        while !selection.is_done(&report) {
            let Some(delivery) = cursor.next().await? else {
                break;
            };
            report.examined += 1;
            let message_id = message_id(&delivery.properties);
            match plan(&delivery.properties, consumer, selection) {
                Plan::Keep => cursor.hold(&delivery),
                Plan::Skip(reason) => {
                    cursor.hold(&delivery);
                    report.skipped.push(Skipped { message_id, reason });
                }
                Plan::Replay(key) => {
                    if let Err(reason) = self.republish(publisher, &key, &delivery).await {
                        cursor.hold(&delivery);
                        let failure = Some((message_id, reason));
                        return Ok(ReplayPass { report, failure });
                    }
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                    report.replayed.push(message_id);
                }
            }
        }
        Ok(ReplayPass {
            report,
            failure: None,
        })
    }

    /// Publishes `delivery` on the events exchange under `key` and waits for the confirm.
    async fn republish(
        &self,
        publisher: &Channel,
        key: &str,
        delivery: &Delivery,
    ) -> Result<(), PublishFailure> {
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = publisher
            .basic_publish(
                &self.topology.events_exchange(),
                key,
                options,
                &delivery.data,
                replay_properties(&delivery.properties),
            )
            .await?;
        match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Err(_) => Err(PublishFailure::ConfirmTimeout(self.confirm_timeout)),
            Ok(Err(e)) => Err(PublishFailure::Broker(e)),
            Ok(Ok(Confirmation::Ack(Some(_returned)))) => Err(PublishFailure::Unroutable),
            Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => Ok(()),
            Ok(Ok(Confirmation::Nack(_))) => Err(PublishFailure::Nacked),
        }
    }

    async fn purge(&self, consumer: &Consumer, confirmed: bool) -> Result<u32, DlqError> {
        let (channel, count) = self.dead_letter_channel(consumer).await?;
        let queue = self.topology.dead_letter_queue(consumer.name);
        if !confirmed {
            let _ = channel.close(200, "done").await;
            return Err(DlqError::PurgeNotConfirmed { queue, count });
        }
        let purged = channel
            .queue_purge(&queue, QueuePurgeOptions::default())
            .await?;
        let _ = channel.close(200, "done").await;
        Ok(purged)
    }
}

impl Selection {
    fn is_done(&self, report: &ReplayReport) -> bool {
        match self {
            Selection::All { limit: Some(limit) } => {
                u32::try_from(report.replayed.len()).unwrap_or(u32::MAX) >= *limit
            }
            Selection::All { limit: None } => false,
            Selection::Id(_) => !report.replayed.is_empty() || !report.skipped.is_empty(),
        }
    }
}

/// What one replay pass did, and the publish that stopped it, if one did.
struct ReplayPass {
    report: ReplayReport,
    failure: Option<(String, PublishFailure)>,
}

/// What `replay` does with one dead letter.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Not selected: it stays.
    Keep,
    /// Selected but cannot be replayed: it stays, and the reason is reported.
    Skip(String),
    /// Republish under this routing key.
    Replay(String),
}

fn plan(properties: &BasicProperties, consumer: &Consumer, selection: &Selection) -> Plan {
    if let Selection::Id(id) = selection
        && properties.message_id().as_ref().map(ShortString::as_str) != Some(id.as_str())
    {
        return Plan::Keep;
    }
    match replay_key(properties, consumer) {
        Ok(key) => Plan::Replay(key),
        Err(reason) => Plan::Skip(reason),
    }
}

/// Reads a queue from its head with `basic.get`, at most the `budget` messages it held when the
/// command started (so dead letters that come back while replaying are not read again), and
/// holds the messages it does not settle until [`Cursor::put_back`].
struct Cursor<'a> {
    channel: &'a Channel,
    queue: &'a str,
    budget: u32,
    first: bool,
    read: u32,
    held: Vec<Acker>,
}

impl<'a> Cursor<'a> {
    fn new(channel: &'a Channel, queue: &'a str, budget: u32) -> Self {
        Cursor {
            channel,
            queue,
            budget,
            first: true,
            read: 0,
            held: Vec::new(),
        }
    }

    async fn next(&mut self) -> Result<Option<Delivery>, DlqError> {
        if self.budget == 0 && !self.first {
            return Ok(None);
        }
        let options = BasicGetOptions { no_ack: false };
        let Some(message) = self.channel.basic_get(self.queue, options).await? else {
            self.budget = 0;
            self.first = false;
            return Ok(None);
        };
        if self.first {
            // The passive declare's count may lag messages another command just put back.
            self.budget = self.budget.max(message.message_count.saturating_add(1));
            self.first = false;
        }
        self.budget = self.budget.saturating_sub(1);
        self.read = self.read.saturating_add(1);
        Ok(Some(message.delivery))
    }

    fn hold(&mut self, delivery: &Delivery) {
        self.held.push(delivery.acker.clone());
    }

    /// Reads on to the end of the budget if anything is held, then puts every held message back
    /// in the order read, so that the queue keeps its order wherever the broker puts returns.
    /// Returns how many messages were read in all.
    async fn put_back(mut self) -> Result<u32, DlqError> {
        if self.held.is_empty() {
            return Ok(self.read);
        }
        while let Some(delivery) = self.next().await? {
            self.hold(&delivery);
        }
        let requeue = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        for acker in &self.held {
            acker.nack(requeue).await?;
        }
        Ok(self.read)
    }
}

async fn passive_declare(channel: &Channel, queue: &str) -> Result<Counts, lapin::Error> {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue, options, FieldTable::default())
        .await?;
    Ok(Counts {
        messages: declared.message_count(),
        consumers: declared.consumer_count(),
    })
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error,
        lapin::Error::ProtocolError(e) if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}

/// Where `url` points, without its credentials.
fn describe_broker(url: &str) -> String {
    match url.parse::<AMQPUri>() {
        Ok(uri) => format!(
            "{}:{} (vhost `{}`)",
            uri.authority.host, uri.authority.port, uri.vhost
        ),
        Err(_) => "the configured amqp.url".to_owned(),
    }
}

/// One entry of a dead letter's `x-death` header (the most recent first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Death {
    /// `rejected`, `expired`, `maxlen` or `delivery_limit`.
    pub reason: String,
    /// How often it died this way in this queue.
    pub count: i64,
    /// The queue it died in.
    pub queue: String,
    pub exchange: String,
    pub routing_keys: Vec<String>,
    /// When (seconds since the epoch).
    pub time: Option<u64>,
}

/// A dead letter as `show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: Option<String>,
    /// The `type` property (the routing key it was published with).
    pub kind: Option<String>,
    /// The routing key `replay` would use.
    pub routing_key: Option<String>,
    pub deaths: Vec<Death>,
    pub first_death_reason: Option<String>,
    /// The `timestamp` property (seconds since the epoch), when the publisher set one.
    pub timestamp: Option<u64>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl DeadLetter {
    fn read(delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let headers = properties.headers().as_ref();
        DeadLetter {
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            kind: properties.kind().as_ref().map(ToString::to_string),
            routing_key: original_routing_key(properties),
            deaths: headers.map(deaths).unwrap_or_default(),
            first_death_reason: headers
                .and_then(|h| h.inner().get("x-first-death-reason"))
                .and_then(text),
            timestamp: *properties.timestamp(),
            content_type: properties.content_type().as_ref().map(ToString::to_string),
            body: delivery.data.clone(),
        }
    }
}

/// The `x-death` entries of `headers`, most recent first.
pub fn deaths(headers: &FieldTable) -> Vec<Death> {
    let Some(entries) = headers.inner().get("x-death").and_then(AMQPValue::as_array) else {
        return Vec::new();
    };
    entries
        .as_slice()
        .iter()
        .filter_map(AMQPValue::as_field_table)
        .map(|entry| {
            let field = |key: &str| entry.inner().get(key);
            Death {
                reason: field("reason").and_then(text).unwrap_or_default(),
                count: field("count").and_then(integer).unwrap_or(0),
                queue: field("queue").and_then(text).unwrap_or_default(),
                exchange: field("exchange").and_then(text).unwrap_or_default(),
                routing_keys: field("routing-keys")
                    .and_then(AMQPValue::as_array)
                    .map(|keys| keys.as_slice().iter().filter_map(text).collect())
                    .unwrap_or_default(),
                time: field("time").and_then(AMQPValue::as_timestamp),
            }
        })
        .collect()
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        _ => None,
    }
}

/// The routing key the message was published with: its `type`, else what `x-death` recorded.
pub fn original_routing_key(properties: &BasicProperties) -> Option<String> {
    let kind = properties
        .kind()
        .as_ref()
        .map(ToString::to_string)
        .filter(|k| !k.is_empty());
    kind.or_else(|| {
        properties
            .headers()
            .as_ref()
            .map(deaths)
            .and_then(|d| d.into_iter().next())
            .and_then(|d| d.routing_keys.into_iter().next())
    })
}

/// The key to replay a message under, or why it cannot be replayed for `consumer`.
fn replay_key(properties: &BasicProperties, consumer: &Consumer) -> Result<String, String> {
    let Some(key) = original_routing_key(properties) else {
        return Err("no `type` property and no `x-death` routing key".to_owned());
    };
    if consumer.routing_keys.contains(&key.as_str()) {
        Ok(key)
    } else {
        Err(format!(
            "routing key `{key}` is not one {} binds ({})",
            consumer.name,
            consumer.routing_keys.join(", ")
        ))
    }
}

/// The headers the broker added on dead-lettering or delivery, which a replay drops.
fn is_broker_header(key: &str) -> bool {
    matches!(key, "x-death" | "x-delivery-count" | "x-acquired-count")
        || key.starts_with("x-first-death-")
        || key.starts_with("x-last-death-")
}

/// `properties` for a replay: the same, without the headers the broker added, and without
/// `user_id` (the broker checks it against the replaying connection's user).
pub fn replay_properties(properties: &BasicProperties) -> BasicProperties {
    let mut replayed = BasicProperties::default();
    if let Some(headers) = properties.headers() {
        let mut kept = FieldTable::default();
        for (key, value) in headers.inner() {
            if !is_broker_header(key.as_str()) {
                kept.insert(key.clone(), value.clone());
            }
        }
        replayed = replayed.with_headers(kept);
    }
    let p = properties;
    replayed = copy(
        replayed,
        p.content_type(),
        BasicProperties::with_content_type,
    );
    replayed = copy(
        replayed,
        p.content_encoding(),
        BasicProperties::with_content_encoding,
    );
    replayed = copy(
        replayed,
        p.correlation_id(),
        BasicProperties::with_correlation_id,
    );
    replayed = copy(replayed, p.reply_to(), BasicProperties::with_reply_to);
    replayed = copy(replayed, p.expiration(), BasicProperties::with_expiration);
    replayed = copy(replayed, p.message_id(), BasicProperties::with_message_id);
    replayed = copy(replayed, p.kind(), BasicProperties::with_type);
    replayed = copy(replayed, p.app_id(), BasicProperties::with_app_id);
    replayed = copy(replayed, p.cluster_id(), BasicProperties::with_cluster_id);
    if let Some(mode) = *p.delivery_mode() {
        replayed = replayed.with_delivery_mode(mode);
    }
    if let Some(priority) = *p.priority() {
        replayed = replayed.with_priority(priority);
    }
    if let Some(timestamp) = *p.timestamp() {
        replayed = replayed.with_timestamp(timestamp);
    }
    replayed
}

type Setter = fn(BasicProperties, ShortString) -> BasicProperties;

/// `properties` with `value` set by `set`, when there is one.
fn copy(properties: BasicProperties, value: &Option<ShortString>, set: Setter) -> BasicProperties {
    match value {
        Some(value) => set(properties, value.clone()),
        None => properties,
    }
}

fn message_id(properties: &BasicProperties) -> String {
    properties
        .message_id()
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

fn format_time(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map_or_else(
            || seconds.to_string(),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

/// `dlq list`'s table.
pub fn render_list(rows: &[QueueCounts]) -> String {
    let w_dlq = rows
        .iter()
        .map(|r| r.dead_letters.name.len())
        .fold("DEAD-LETTER QUEUE".len(), usize::max);
    let w_queue = rows
        .iter()
        .map(|r| r.queue.name.len())
        .fold("QUEUE".len(), usize::max);
    let mut out = format!(
        "{:<16} {:<w_dlq$} {:>6}  {:<w_queue$} {:>6} {:>9}\n",
        "CONSUMER", "DEAD-LETTER QUEUE", "DEAD", "QUEUE", "READY", "CONSUMERS"
    );
    for row in rows {
        let dead = row
            .dead_letters
            .counts
            .map_or_else(|| "absent".to_owned(), |c| c.messages.to_string());
        let (ready, consumers) = row.queue.counts.map_or_else(
            || ("absent".to_owned(), "-".to_owned()),
            |c| (c.messages.to_string(), c.consumers.to_string()),
        );
        let _ = writeln!(
            out,
            "{:<16} {:<w_dlq$} {:>6}  {:<w_queue$} {:>6} {:>9}",
            row.consumer, row.dead_letters.name, dead, row.queue.name, ready, consumers
        );
    }
    out
}

/// `dlq show`'s listing; bodies only with `body`.
pub fn render_show(shown: &Shown, body: bool) -> String {
    let mut out = format!(
        "{} of {} dead letters, oldest first\n",
        shown.letters.len(),
        shown.total
    );
    for (i, letter) in shown.letters.iter().enumerate() {
        render_letter(&mut out, i + 1, letter, body);
    }
    out
}

fn render_letter(out: &mut String, n: usize, letter: &DeadLetter, body: bool) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let _ = writeln!(
        out,
        "#{n} message id {}  type {}  routing key {}",
        or_dash(&letter.message_id),
        or_dash(&letter.kind),
        or_dash(&letter.routing_key)
    );
    for death in &letter.deaths {
        let _ = writeln!(
            out,
            "   dead-lettered: {} x{} from {} (routing keys {}) at {}",
            death.reason,
            death.count,
            death.queue,
            death.routing_keys.join(","),
            death.time.map_or_else(|| "-".to_owned(), format_time)
        );
    }
    let _ = writeln!(
        out,
        "   first death: {}  published at: {}  body: {} bytes ({})",
        or_dash(&letter.first_death_reason),
        letter.timestamp.map_or_else(|| "-".to_owned(), format_time),
        letter.body.len(),
        or_dash(&letter.content_type)
    );
    if body {
        let text = serde_json::from_slice::<serde_json::Value>(&letter.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&letter.body).into_owned());
        let _ = writeln!(out, "{text}");
    }
}

/// `dlq replay`'s summary.
pub fn render_replay(report: &ReplayReport) -> String {
    let mut out = format!(
        "replayed {} of {} dead letters examined\n",
        report.replayed.len(),
        report.examined
    );
    for id in &report.replayed {
        let _ = writeln!(out, "  replayed {id}");
    }
    for skipped in &report.skipped {
        let _ = writeln!(out, "  left {}: {}", skipped.message_id, skipped.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use lapin::types::{FieldArray, ShortString};

    use super::*;

    fn long(text: &str) -> AMQPValue {
        AMQPValue::LongString(LongString::from(text))
    }

    /// Headers as RabbitMQ sets them on a message rejected from `leadgen.sync-worker`.
    fn dead_letter_headers() -> FieldTable {
        let mut death = FieldTable::default();
        death.insert("count".into(), AMQPValue::LongLongInt(2));
        death.insert("reason".into(), long("rejected"));
        death.insert("queue".into(), long("leadgen.sync-worker"));
        death.insert("exchange".into(), long("leadgen.events"));
        death.insert("time".into(), AMQPValue::Timestamp(1_767_225_600));
        death.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![long("sync.requested.v1")])),
        );
        let mut headers = FieldTable::default();
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        headers.insert("x-first-death-reason".into(), long("rejected"));
        headers.insert("x-first-death-queue".into(), long("leadgen.sync-worker"));
        headers.insert("x-last-death-reason".into(), long("rejected"));
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(3));
        headers.insert("traceparent".into(), long("00-abc-def-01"));
        headers
    }

    #[test]
    fn a_consumer_is_named_by_itself_or_its_queues() {
        for given in [
            "sync-worker",
            "leadgen.sync-worker",
            "leadgen.sync-worker.dlq",
        ] {
            assert_eq!(consumer(given, "leadgen").unwrap().name, "sync-worker");
        }
        let err = consumer("billing", "leadgen").unwrap_err().to_string();
        assert!(err.contains("`billing`"), "{err}");
        assert!(err.contains("sync-worker, order-processor"), "{err}");
    }

    #[test]
    fn x_death_is_read_and_gives_the_routing_key_when_type_is_missing() {
        let headers = dead_letter_headers();
        let deaths = deaths(&headers);
        assert_eq!(
            deaths,
            [Death {
                reason: "rejected".into(),
                count: 2,
                queue: "leadgen.sync-worker".into(),
                exchange: "leadgen.events".into(),
                routing_keys: vec!["sync.requested.v1".into()],
                time: Some(1_767_225_600),
            }]
        );
        let untyped = BasicProperties::default().with_headers(headers.clone());
        assert_eq!(
            original_routing_key(&untyped).as_deref(),
            Some("sync.requested.v1")
        );
        let typed = untyped.with_type(ShortString::from("orders.fetched.v1"));
        assert_eq!(
            original_routing_key(&typed).as_deref(),
            Some("orders.fetched.v1")
        );
        assert_eq!(original_routing_key(&BasicProperties::default()), None);
    }

    #[test]
    fn only_keys_the_consumer_binds_are_replayed() {
        let sync_worker = &CONSUMERS[0];
        let typed = |key: &str| BasicProperties::default().with_type(ShortString::from(key));
        assert_eq!(
            replay_key(&typed("sync.requested.v1"), sync_worker).as_deref(),
            Ok("sync.requested.v1")
        );
        let err = replay_key(&typed("lead.updated.v1"), sync_worker).unwrap_err();
        assert!(err.contains("lead.updated.v1"), "{err}");
        assert!(replay_key(&BasicProperties::default(), sync_worker).is_err());

        let m1 = typed("sync.requested.v1").with_message_id(ShortString::from("m1"));
        let all = Selection::All { limit: None };
        let other = Selection::Id("m2".into());
        let this = Selection::Id("m1".into());
        let key = Plan::Replay("sync.requested.v1".into());
        assert_eq!(plan(&m1, sync_worker, &all), key);
        assert_eq!(plan(&m1, sync_worker, &this), key);
        assert_eq!(plan(&m1, sync_worker, &other), Plan::Keep);
        let stray = typed("lead.updated.v1").with_message_id(ShortString::from("m1"));
        assert!(matches!(plan(&stray, sync_worker, &this), Plan::Skip(_)));
    }

    #[test]
    fn a_replay_keeps_the_properties_and_drops_the_brokers_headers() {
        let original = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_message_id("m-1".into())
            .with_type("sync.requested.v1".into())
            .with_timestamp(1_767_225_600)
            .with_correlation_id("c-1".into())
            .with_user_id("someone-else".into())
            .with_headers(dead_letter_headers());
        let replayed = replay_properties(&original);
        let headers = replayed.headers().clone().unwrap();
        let keys: Vec<_> = headers.inner().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["traceparent"]);
        assert_eq!(replayed.content_type(), original.content_type());
        assert_eq!(replayed.delivery_mode(), original.delivery_mode());
        assert_eq!(replayed.message_id(), original.message_id());
        assert_eq!(replayed.kind(), original.kind());
        assert_eq!(replayed.timestamp(), original.timestamp());
        assert_eq!(replayed.correlation_id(), original.correlation_id());
        assert_eq!(*replayed.user_id(), None);
    }
}
