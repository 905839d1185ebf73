//! The process's broker connections, re-established (and the topology re-declared) when lost:
//! one that publishes (events, dead letters), and, in a process that consumes, one that only
//! receives and settles deliveries. RabbitMQ blocks a connection that publishes while a memory
//! or disk alarm is in effect, and lapin then writes nothing on it, acks included: a consumer
//! sharing the relay's connection could not ack, so the backlog that raised the alarm could
//! never drain. A connection that only consumes is never blocked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use leadgen_settings::AmqpSettings;

use crate::topology::{QueueSpec, Topology};

/// The content type of every published message: a CloudEvents envelope in JSON, structured
/// mode of the CloudEvents AMQP binding (a CloudEvents SDK reads the attributes from the body).
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json; charset=utf-8";

/// Why the broker could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessagingError {
    #[error("broker connection failed: {0}")]
    Connection(#[from] lapin::Error),
    #[error(
        "the broker refused the message (nack): a queue it was routed to refused it (full, with \
         x-overflow reject-publish) or could not store it"
    )]
    Nacked,
    #[error("the message could not be routed to any queue")]
    Unroutable,
    #[error("no publisher confirm within {0:?}")]
    ConfirmTimeout(Duration),
    #[error(
        "the broker took nothing within {0:?}: a memory or disk alarm blocks publishing, or the \
         network stalls"
    )]
    SendTimeout(Duration),
    #[error(
        "the broker blocks publishing on this connection (a memory or disk alarm); nothing was sent"
    )]
    Blocked,
    #[error("the broker connection did not open within {0:?}")]
    ConnectTimeout(Duration),
    #[error("opening the broker connection failed: {0}")]
    Open(String),
    #[error("not sent: an earlier message of the same batch could not be sent")]
    NotSent,
}

/// A message ready to publish on the events exchange.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub routing_key: String,
    /// The event id; consumers dedupe on it.
    pub message_id: String,
    pub payload: Vec<u8>,
    /// W3C trace context and any other string headers.
    pub headers: HashMap<String, String>,
}

struct Live {
    connection: Connection,
    publisher: Channel,
}

impl Live {
    /// Open, and not blocked by a resource alarm (a blocked connection writes nothing, so a
    /// channel opened or a message sent on it waits for the alarm to clear).
    fn up(&self) -> bool {
        let status = self.connection.status();
        status.connected() && !status.blocked()
    }
}

/// An open still on its way after its timeout. The next attempt waits on it instead of opening
/// a second connection beside it: lapin gives each connection an I/O thread from its first
/// byte, which an open given up on would leave behind, one more each attempt, for as long as a
/// peer that accepts and stays silent keeps the socket. Given up only once it is
/// [`OPEN_GIVEN_UP_AFTER`] connect timeouts old.
struct Opening {
    since: std::time::Instant,
    task: tokio::task::JoinHandle<Result<Live, MessagingError>>,
}

/// How many connect timeouts an open may take in all before a new one replaces it.
const OPEN_GIVEN_UP_AFTER: u32 = 6;

/// How long [`Broker::is_connected`] waits for the connection's lock before it answers "not
/// connected": a reconnection holds it.
const READINESS_WAIT: Duration = Duration::from_millis(250);

/// One of the process's two connections, with its channel for declaring and publishing.
struct Link {
    /// The connection's name, as the broker lists it: the prefix, and ` consume` after it for
    /// the consuming one ([`Topology::connection_name_of`]).
    name: String,
    live: Mutex<Option<Live>>,
    opening: std::sync::Mutex<Option<Opening>>,
}

impl Link {
    fn new(name: String) -> Self {
        Link {
            name,
            live: Mutex::new(None),
            opening: std::sync::Mutex::new(None),
        }
    }

    /// Whether it is up, answered within [`READINESS_WAIT`] (a reconnection holds the lock).
    async fn up(&self) -> bool {
        match tokio::time::timeout(READINESS_WAIT, self.live.lock()).await {
            Ok(live) => live.as_ref().is_some_and(Live::up),
            Err(_) => false,
        }
    }

    fn opening_slot(&self) -> std::sync::MutexGuard<'_, Option<Opening>> {
        self.opening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn close(&self, within: Duration) {
        // A connection the broker blocks cannot send its close either: the wait is bounded.
        if let Some(live) = self.live.lock().await.take() {
            let closed = live.connection.close(200, "shutdown");
            let _ = tokio::time::timeout(within, closed).await;
        }
    }
}

/// The process's broker connections.
pub struct Broker {
    url: SecretString,
    /// `[amqp] ca_file`: CAs trusted for `amqps://` beside the Mozilla roots.
    ca_file: Option<std::path::PathBuf>,
    topology: Topology,
    queues: Vec<QueueSpec>,
    confirm_timeout: Duration,
    connect_timeout: Duration,
    /// Events and dead letters go out here.
    publishing: Link,
    /// Deliveries arrive and are settled here, and nothing is published: opened by the first
    /// consumer. A process that consumes nothing reads queue depths on `publishing`.
    consuming: Link,
    /// Whether a consumer asked for `consuming` (from its first attempt: a consuming connection
    /// that never opens, at a connection limit say, reads as down, not as absent).
    consuming_wanted: std::sync::atomic::AtomicBool,
}

impl Drop for Broker {
    fn drop(&mut self) {
        for link in [&self.publishing, &self.consuming] {
            if let Some(opening) = link.opening_slot().take() {
                opening.task.abort();
            }
        }
    }
}

impl Broker {
    /// Connects and declares the topology, including `queues` (the queues this process consumes).
    pub async fn connect(
        settings: &AmqpSettings,
        queues: Vec<QueueSpec>,
    ) -> Result<Arc<Self>, MessagingError> {
        let broker = Self::unconnected(settings, queues);
        drop(broker.connected(&broker.publishing).await?);
        Ok(Arc::new(broker))
    }

    /// The broker, connected now if it answers within `[amqp] connect_timeout_ms`, else at its
    /// next use: a process that only publishes through the outbox (the APIs) starts and serves
    /// while the broker is down, and its relay connects and publishes once the broker is back.
    /// One that consumes needs the broker to work at all, and uses [`Broker::connect`].
    pub async fn connect_or_later(settings: &AmqpSettings) -> Arc<Self> {
        let broker = Self::unconnected(settings, Vec::new());
        if let Err(e) = broker.connected(&broker.publishing).await {
            tracing::warn!(
                error = %e,
                "The broker cannot be reached; starting without it (events wait in the outbox)"
            );
        }
        Arc::new(broker)
    }

    fn unconnected(settings: &AmqpSettings, queues: Vec<QueueSpec>) -> Self {
        Broker {
            url: settings.url.clone(),
            ca_file: settings.ca_file.clone(),
            topology: Topology {
                prefix: settings.prefix.clone(),
                delivery_limit: settings.delivery_limit,
            },
            queues,
            confirm_timeout: Duration::from_millis(settings.confirm_timeout_ms),
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            publishing: Link::new(settings.prefix.clone()),
            consuming: Link::new(Topology::connection_name_of(&settings.prefix, true)),
            consuming_wanted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// How long a send, and then its confirm, may take.
    pub(crate) fn confirm_timeout(&self) -> Duration {
        self.confirm_timeout
    }

    /// The queues this process consumes.
    pub(crate) fn consumed(&self) -> &[QueueSpec] {
        &self.queues
    }

    /// Opens the connection and declares the topology, or fails after `[amqp]
    /// connect_timeout_ms` (every caller waits on the `live` lock meanwhile). An open that
    /// timed out goes on, and the next call waits on it again ([`Opening`]).
    async fn open(&self, link: &Link) -> Result<Live, MessagingError> {
        let pending = link.opening_slot().take();
        let give_up = self.connect_timeout * OPEN_GIVEN_UP_AFTER;
        let mut opening = match pending {
            Some(opening) if opening.since.elapsed() < give_up => opening,
            stale => {
                if let Some(stale) = stale {
                    tracing::warn!(
                        "A broker connection still not open after {give_up:?}; opening another"
                    );
                    stale.task.abort();
                }
                Opening {
                    since: std::time::Instant::now(),
                    task: tokio::spawn(open_unbounded(
                        self.url.clone(),
                        self.ca_file.clone(),
                        self.topology.clone(),
                        self.queues.clone(),
                        link.name.clone(),
                    )),
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, &mut opening.task).await {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => Err(MessagingError::Open(e.to_string())),
            Err(_) => {
                *link.opening_slot() = Some(opening);
                Err(MessagingError::ConnectTimeout(self.connect_timeout))
            }
        }
    }

    /// `link`'s connection, opened first when it is not (never opened, or lost).
    async fn connected<'a>(
        &'a self,
        link: &'a Link,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<Live>>, MessagingError> {
        let mut live = link.live.lock().await;
        let healthy = live
            .as_ref()
            .is_some_and(|l| l.connection.status().connected() && l.publisher.status().connected());
        if !healthy {
            if live.is_some() {
                tracing::warn!(amqp.connection = %link.name, "Broker connection lost; reconnecting");
            }
            *live = None;
            *live = Some(self.open(link).await?);
        }
        Ok(live)
    }

    /// The link that receives: the consuming one in a process that consumes, the publishing one
    /// (for queue depths) in one that does not.
    fn receiving(&self) -> &Link {
        if self.queues.is_empty() {
            &self.publishing
        } else {
            &self.consuming
        }
    }

    /// The publishing channel, reconnecting first when the connection was lost, with the
    /// connection's status (whether the broker blocks it, checked before each send).
    pub(crate) async fn publisher(
        &self,
    ) -> Result<(Channel, lapin::ConnectionStatus), MessagingError> {
        match self.connected(&self.publishing).await?.as_ref() {
            Some(l) => Ok((l.publisher.clone(), l.connection.status().clone())),
            None => Err(closed()),
        }
    }

    /// Opens the publishing connection if it is not open (an idle relay's pass keeps it so:
    /// the readiness check and `leadgen_dependency_up` read it).
    pub async fn ensure_connected(&self) -> Result<(), MessagingError> {
        self.publisher().await.map(|_| ())
    }

    /// A fresh channel for consuming (on the consuming connection, in a process that
    /// consumes), reconnecting first when needed. Bounded by the connect timeout: the broker
    /// answers nothing on a connection it blocks.
    pub async fn consumer_channel(&self) -> Result<Channel, MessagingError> {
        if !self.queues.is_empty() {
            self.consuming_wanted
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let live = self.connected(self.receiving()).await?;
        let Some(l) = live.as_ref() else {
            return Err(closed());
        };
        match tokio::time::timeout(self.connect_timeout, l.connection.create_channel()).await {
            Ok(channel) => Ok(channel?),
            Err(_) => Err(MessagingError::SendTimeout(self.connect_timeout)),
        }
    }

    /// Whether the connection queue depths are read on is up (the consuming one in a worker,
    /// never blocked by an alarm: its backlog gauges keep moving while publishing is blocked).
    pub async fn receiving_is_up(&self) -> bool {
        self.receiving().up().await
    }

    /// Whether the process's connections are up (for `/readyz`): the publishing one, and the
    /// consuming one once a consumer tried to open it. A connection being opened, or blocked by
    /// a resource alarm, is not up. Answers within [`READINESS_WAIT`] a connection: the lock is
    /// held for the whole of a reconnection (up to `connect_timeout_ms`, 10 s), and a
    /// readiness probe must not wait that long, least of all one where the broker is optional.
    pub async fn is_connected(&self) -> bool {
        let consuming = !self
            .consuming_wanted
            .load(std::sync::atomic::Ordering::Relaxed)
            || self.consuming.up().await;
        consuming && self.publishing.up().await
    }

    /// Publishes on the events exchange and waits for the broker's confirm. Persistent,
    /// mandatory, JSON, with `message_id` and `type` set.
    pub async fn publish(&self, message: &OutgoingMessage) -> Result<(), MessagingError> {
        self.publish_all(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Publishes `messages` in order on the publishing channel without waiting between them,
    /// then waits for every confirm: the broker syncs them to disk together, instead of one
    /// round trip and one sync per message. Answers one result per message, in order; once a
    /// send fails, the messages after it are not sent ([`MessagingError::NotSent`]).
    pub async fn publish_all(
        &self,
        messages: &[OutgoingMessage],
    ) -> Vec<Result<(), MessagingError>> {
        use tracing::Instrument as _;
        if messages.is_empty() {
            // Nothing to send needs no connection (an idle relay's pass must not reconnect
            // every time it finds its outbox empty).
            return Vec::new();
        }
        let (channel, status) = match self.publisher().await {
            Ok(publisher) => publisher,
            Err(e) => {
                let mut out = vec![Err(e)];
                out.extend(
                    messages
                        .iter()
                        .skip(1)
                        .map(|_| Err(MessagingError::NotSent)),
                );
                return out;
            }
        };
        let mut pending = Vec::with_capacity(messages.len());
        let mut failed = None;
        for message in messages {
            // Nothing is queued on a connection the broker blocks: a message queued there goes
            // out when the alarm clears, and the relay's next pass would queue it again.
            if status.blocked() {
                failed = Some(MessagingError::Blocked);
                break;
            }
            let span = self.publish_span(message);
            // lapin writes nothing on a connection the broker blocked (a resource alarm), and a
            // send waits until it is written: bounded, so that the relay's pass (and the
            // outbox rows it holds) waits no longer than a confirm would.
            let sent = tokio::time::timeout(
                self.confirm_timeout,
                self.send(&channel, message, &span).instrument(span.clone()),
            )
            .await;
            match sent {
                Ok(Ok(confirm)) => pending.push((span, confirm)),
                Ok(Err(e)) => {
                    span.record("otel.status_code", "ERROR");
                    failed = Some(MessagingError::Connection(e));
                    break;
                }
                Err(_) => {
                    span.record("otel.status_code", "ERROR");
                    failed = Some(MessagingError::SendTimeout(self.confirm_timeout));
                    break;
                }
            }
        }
        // One deadline for the batch's confirms: the broker stops reading a connection it
        // blocks mid-batch, and a hundred sent messages waiting their turn would wait a confirm
        // timeout each.
        let deadline = tokio::time::Instant::now() + self.confirm_timeout;
        let mut out = Vec::with_capacity(messages.len());
        for (span, confirm) in pending {
            let result = self
                .settle_by(confirm, deadline)
                .instrument(span.clone())
                .await;
            if result.is_err() {
                span.record("otel.status_code", "ERROR");
            }
            out.push(result);
        }
        if let Some(e) = failed {
            out.push(Err(e));
            out.extend(
                messages
                    .iter()
                    .skip(out.len())
                    .map(|_| Err(MessagingError::NotSent)),
            );
        }
        if out.iter().any(|r| {
            matches!(
                r,
                Err(MessagingError::Connection(_) | MessagingError::ConfirmTimeout(_))
            )
        }) {
            self.forget_connection().await;
        }
        out
    }

    /// Forces a reconnect on the next publish rather than reuse a channel in an unknown state;
    /// not a connection the broker blocks, which goes on once the alarm clears (a new one would
    /// be blocked alike).
    pub(crate) async fn forget_connection(&self) {
        let mut live = self.publishing.live.lock().await;
        if !live
            .as_ref()
            .is_some_and(|l| l.connection.status().blocked())
        {
            *live = None;
        }
    }

    /// A producer span (OpenTelemetry messaging conventions), a child of the trace the event was
    /// committed in; the consumer's span becomes its child through the headers.
    fn publish_span(&self, message: &OutgoingMessage) -> tracing::Span {
        let exchange = self.topology.events_exchange();
        let span = tracing::info_span!(
            "publish",
            otel.name = format!("publish {exchange}"),
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.operation.type = "send",
            messaging.operation.name = "publish",
            messaging.destination.name = exchange.as_str(),
            messaging.rabbitmq.destination.routing_key = message.routing_key.as_str(),
            messaging.message.id = message.message_id.as_str(),
            otel.status_code = tracing::field::Empty,
        );
        leadgen_telemetry::set_parent_from(&span, &message.headers);
        span
    }

    /// Sends one message: persistent, mandatory, JSON, with `message_id`, `type` and the trace
    /// context set. Answers the pending confirm.
    async fn send(
        &self,
        channel: &Channel,
        message: &OutgoingMessage,
        span: &tracing::Span,
    ) -> Result<PublisherConfirm, lapin::Error> {
        let mut carried = message.headers.clone();
        carried.extend(span.in_scope(leadgen_telemetry::inject_current));
        let mut headers = FieldTable::default();
        for (k, v) in &carried {
            headers.insert(
                ShortString::from(k.clone()),
                AMQPValue::LongString(LongString::from(v.as_bytes().to_vec())),
            );
        }
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from(CLOUDEVENTS_JSON))
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(message.message_id.clone()))
            // When it was published (AMQP `timestamp`, seconds): `leadctl dlq show` prints it.
            .with_timestamp(epoch_seconds())
            .with_type(ShortString::from(message.routing_key.clone()))
            .with_headers(headers);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        channel
            .basic_publish(
                &self.topology.events_exchange(),
                &message.routing_key,
                options,
                &message.payload,
                properties,
            )
            .await
    }

    /// Waits for a sent message's confirm until `deadline`.
    pub(crate) async fn settle_by(
        &self,
        confirm: PublisherConfirm,
        deadline: tokio::time::Instant,
    ) -> Result<(), MessagingError> {
        match tokio::time::timeout_at(deadline, confirm).await {
            Err(_) => Err(MessagingError::ConfirmTimeout(self.confirm_timeout)),
            Ok(Err(e)) => Err(MessagingError::Connection(e)),
            Ok(Ok(Confirmation::Ack(Some(_returned)))) => Err(MessagingError::Unroutable),
            Ok(Ok(Confirmation::Ack(None) | Confirmation::NotRequested)) => Ok(()),
            Ok(Ok(Confirmation::Nack(_))) => Err(MessagingError::Nacked),
        }
    }

    /// Deletes this broker's queues and exchanges (test clean-up).
    pub async fn delete_topology(&self) -> Result<(), MessagingError> {
        let (channel, _) = self.publisher().await?;
        self.topology.delete(&channel, &self.queues).await?;
        Ok(())
    }

    /// Deletes the queues and exchanges of another topology (test clean-up of a prefix).
    pub async fn delete_queues_and_exchanges(
        &self,
        topology: &Topology,
        queues: &[QueueSpec],
    ) -> Result<(), MessagingError> {
        let (channel, _) = self.publisher().await?;
        topology.delete(&channel, queues).await?;
        Ok(())
    }

    /// Closes the connections (graceful shutdown), waiting at most a connect timeout for the
    /// broker's answers.
    pub async fn close(&self) {
        tokio::join!(
            self.consuming.close(self.connect_timeout),
            self.publishing.close(self.connect_timeout)
        );
    }
}

/// The error for a connection that is not there.
fn closed() -> MessagingError {
    MessagingError::Connection(lapin::Error::InvalidConnectionState(
        lapin::ConnectionState::Closed,
    ))
}

/// Opens a connection named `name` to `url` and declares `topology` with `queues` on its
/// publishing channel. An `amqps://` URL is TLS, trusting the Mozilla roots and `ca_file`'s CAs.
async fn open_unbounded(
    url: SecretString,
    ca_file: Option<std::path::PathBuf>,
    topology: Topology,
    queues: Vec<QueueSpec>,
    name: String,
) -> Result<Live, MessagingError> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio)
        .with_connection_name(LongString::from(name.clone().into_bytes()));
    let connection =
        crate::connection::open(url.expose_secret(), ca_file.as_deref(), properties).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    topology.declare(&publisher, &queues).await?;
    tracing::info!(amqp.prefix = %topology.prefix, amqp.connection = %name, "Connected to the broker and declared the topology");
    Ok(Live {
        connection,
        publisher,
    })
}

#[cfg(test)]
mod tests;

/// Now, in seconds since the epoch (the AMQP timestamp's unit).
pub(crate) fn epoch_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
