//! The broker side of one `dlq` command: a [`Session`] opens one connection, passively checks
//! the consumer's queues, reads the DLQ through a [`Cursor`] that puts back what it holds in the
//! order read, and runs the replay pass (plan each dead letter, republish it with a publisher
//! confirm, then ack it).

use std::time::Duration;

use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{FieldTable, LongString, ShortString};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use leadgen_messaging::Topology;
use leadgen_settings::{AmqpSettings, ExposeSecret};

use super::letter::{DeadLetter, message_id, replay_key, replay_properties};
use super::{
    CONSUMERS, Consumer, Counts, DlqError, PublishFailure, QueueCounts, QueueStat, ReplayReport,
    Selection, Shown, Skipped,
};

/// One connection for one command.
pub(super) struct Session {
    connection: Connection,
    topology: Topology,
    confirm_timeout: Duration,
}

impl Session {
    pub(super) async fn open(settings: &AmqpSettings) -> Result<Self, DlqError> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio)
            .with_connection_name(LongString::from(b"leadctl".to_vec()));
        let url = settings.url.expose_secret();
        let unreachable = |reason: String| DlqError::Unreachable {
            broker: describe_broker(url),
            reason,
        };
        // How long to wait for the broker to accept the connection (`[amqp] connect_timeout_ms`).
        let timeout = Duration::from_millis(settings.connect_timeout_ms);
        let ca_file = settings.ca_file.as_deref();
        let opening = leadgen_messaging::connection::open(url, ca_file, properties);
        let connection = match tokio::time::timeout(timeout, opening).await {
            Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
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

    pub(super) async fn close(self) {
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

    pub(super) async fn list(&self) -> Result<Vec<QueueCounts>, DlqError> {
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

    pub(super) async fn show(&self, consumer: &Consumer, limit: u32) -> Result<Shown, DlqError> {
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

    pub(super) async fn replay(
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

    pub(super) async fn purge(
        &self,
        consumer: &Consumer,
        confirmed: bool,
    ) -> Result<u32, DlqError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
