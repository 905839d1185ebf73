//! Consuming with manual acks, bounded prefetch and a supervised reconnect.
//!
//! Each delivery's handler runs as a task of its own, detached from the consuming session (one
//! channel) that received it:
//!
//! - **Reconnecting** does not wait for handlers. When the channel or the connection goes away
//!   (a broker restart, a network blip, the broker's consumer timeout), the session ends at once
//!   and the next one starts after the backoff, while the handlers go on. A handler that then
//!   settles on the lost channel fails to (logged): the broker redelivers what was not
//!   acknowledged, and the handler's ledger makes that safe; one that acknowledged early
//!   ([`crate::early_ack`]) has nothing left to settle.
//! - **Concurrency** is bounded by unsettled deliveries, not by running handlers: a handler holds
//!   one of the session's `prefetch` places until its delivery is settled or acknowledged
//!   early. Handlers that acknowledged early and run on take no place, so the deliveries the
//!   broker sends after them are handled at once (left waiting, they would run into the
//!   broker's consumer timeout). Nothing else caps them: what acknowledges early answers for
//!   its own work (sync-worker: one running sync task per shop).
//! - **Stopping** (`cancel`): no new handler starts; [`run`] returns once every running handler,
//!   of whichever session, has finished, and the current channel is closed only after its
//!   handlers have settled (so their acks arrive). A consumer that gives up on the broker also
//!   waits for its handlers before it returns the error.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::broker::{Broker, MessagingError};
use crate::dead_letter::Death;

/// What a handler decided about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or already done before): acknowledge.
    Ack,
    /// Failed for a reason that may pass (database or platform unavailable): requeue after a
    /// delay, until the queue's delivery limit dead-letters it.
    Retry(String),
    /// Can never succeed (malformed, unknown type): dead-letter now.
    Reject(String),
}

/// One received message, detached from lapin.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub body: Vec<u8>,
    pub message_id: Option<String>,
    /// The exchange it was published to.
    pub exchange: String,
    pub routing_key: String,
    pub headers: HashMap<String, String>,
    /// How often the broker delivered it before (quorum `x-delivery-count`).
    pub delivery_count: u32,
    pub redelivered: bool,
    /// Acknowledges it before the handler ends ([`crate::early_ack`]).
    pub early_ack: crate::EarlyAck,
}

/// Handles one message. Implementations do their work in one database transaction that also
/// records the message id, commit, and only then return [`Outcome::Ack`].
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, message: Incoming) -> Outcome;

    /// Called once, just before `message` goes to the dead-letter queue (rejected, or failed on
    /// its last allowed delivery), so that whatever waited on it can end with `reason` instead
    /// of waiting forever. Best effort: the message is dead-lettered whatever this does.
    async fn dead_lettered(&self, _message: &Incoming, _reason: &str) {}

    /// Returns once what the handler needs answers again (its database), or when it decides to
    /// stop waiting. Called after a [`Outcome::Retry`] and before the message goes back to the
    /// queue: each return costs one of the queue's few deliveries, and a database restart
    /// longer than the backoff must not spend them all and dead-letter the message.
    async fn wait_until_ready(&self) {}
}

/// How consuming is tuned.
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    pub consumer: &'static str,
    pub prefetch: u16,
    pub delivery_limit: u32,
    /// Give up (and let the process exit non-zero) after this long without a connection.
    pub give_up_after: Duration,
}

impl ConsumeOptions {
    /// `consumer`'s options as `[amqp]` sets them.
    pub fn from_settings(consumer: &'static str, amqp: &leadgen_settings::AmqpSettings) -> Self {
        ConsumeOptions {
            consumer,
            prefetch: amqp.prefetch,
            delivery_limit: amqp.delivery_limit,
            give_up_after: Duration::from_secs(amqp.give_up_secs),
        }
    }
}

/// Consumes `options.consumer`'s queue until `cancel` fires, reconnecting when the broker goes
/// away. Returns an error only when the broker stayed unreachable for `give_up_after`, and then
/// cancels `cancel` itself first: whatever shares the token (the process, the handlers' own
/// work, such as a running sync) stops too, instead of the process waiting, half alive, for
/// handlers that were never told to end. Returns (either way) only once every handler it
/// started has finished.
pub async fn run(
    broker: Arc<Broker>,
    handler: Arc<dyn Handler>,
    options: ConsumeOptions,
    cancel: CancellationToken,
) -> Result<(), MessagingError> {
    // Every running handler, whichever session received its delivery: a session that ends does
    // not wait for them (the next one starts at once), `run` does.
    let mut handlers = JoinSet::new();
    let result = supervise(&broker, &handler, &options, &cancel, &mut handlers).await;
    if result.is_err() {
        cancel.cancel();
    }
    finish(&mut handlers).await;
    result
}

/// Runs consuming sessions one after the other until `cancel` fires (`Ok`) or the broker stayed
/// unreachable for `give_up_after` (`Err`).
async fn supervise(
    broker: &Arc<Broker>,
    handler: &Arc<dyn Handler>,
    options: &ConsumeOptions,
    cancel: &CancellationToken,
    handlers: &mut JoinSet<()>,
) -> Result<(), MessagingError> {
    let mut outage = Outage::default();
    while !cancel.is_cancelled() {
        match consume_once(broker, handler, options, cancel, handlers, &mut outage).await {
            Ok(()) => outage = Outage::default(),
            Err(e) => {
                let since = *outage
                    .down_since
                    .get_or_insert_with(tokio::time::Instant::now);
                outage.attempt = outage.attempt.saturating_add(1);
                if since.elapsed() >= options.give_up_after {
                    tracing::error!(error = %e, consumer = options.consumer, "Broker unreachable for too long; giving up");
                    return Err(e);
                }
                let delay = backoff(
                    outage.attempt,
                    Duration::from_millis(250),
                    Duration::from_secs(10),
                );
                reap(handlers);
                tracing::warn!(error = %e, consumer = options.consumer, retry_in_ms = delay.as_millis() as u64, handlers_running = handlers.len(), "Consumer lost the broker; reconnecting");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => {}
                }
            }
        }
    }
    Ok(())
}

/// Since when, and after how many attempts, the consumer has been without a broker. Reset as
/// soon as a consuming session starts, so a later outage gets the full `give_up_after` again.
#[derive(Debug, Default)]
struct Outage {
    down_since: Option<tokio::time::Instant>,
    attempt: u32,
}

/// One consuming session on one channel. Returns `Ok` on cancellation, once every handler has
/// finished and settled; `Err` as soon as the channel or connection fails, its handlers still
/// running (they go on in `handlers`).
async fn consume_once(
    broker: &Arc<Broker>,
    handler: &Arc<dyn Handler>,
    options: &ConsumeOptions,
    cancel: &CancellationToken,
    handlers: &mut JoinSet<()>,
    outage: &mut Outage,
) -> Result<(), MessagingError> {
    let channel = broker.consumer_channel().await?;
    channel
        .basic_qos(options.prefetch, BasicQosOptions::default())
        .await?;
    let queue = broker.topology().queue(options.consumer);
    let tag = format!("{}-{}", options.consumer, rand::thread_rng().r#gen::<u64>());
    let mut consumer = channel
        .basic_consume(
            &queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %queue, "Consuming");
    // Every settlement series exists from the start, at 0: a dead-letter counter that first
    // appeared at 1 after a restart, where the last process had left it at 1, would show no
    // increase to the dead-letter alert.
    let queue_label = [("queue", queue.clone())];
    for name in [
        "leadgen_messages_delivered_total",
        "leadgen_messages_acked_total",
        "leadgen_messages_requeued_total",
        "leadgen_messages_dead_lettered_total",
    ] {
        metrics::counter!(name, &queue_label).increment(0);
    }
    // And the depth gauges from the start of consuming, not from the next dependency check
    // (every 15 s): the queue and its dead-letter queue exist now.
    broker.record_queue_depths().await;
    *outage = Outage::default();
    // This session's unsettled deliveries, as many as the broker lets it have: a handler holds
    // its place until its delivery is settled or acknowledged early ([`crate::early_ack`]), not
    // until it ends. A session of its own, so that handlers left from a lost channel (whose
    // deliveries the broker sends again) take no place in the next.
    let unsettled = Arc::new(Semaphore::new(usize::from(options.prefetch.max(1))));
    let lost = loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => break None,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                reap(handlers);
                handlers.spawn(start(
                    delivery,
                    Session {
                        channel: channel.clone(),
                        unsettled: Arc::clone(&unsettled),
                        handler: Arc::clone(handler),
                        broker: Arc::clone(broker),
                        cancel: cancel.clone(),
                        delivery_limit: options.delivery_limit,
                        queue: queue.clone(),
                    },
                ));
            }
            // A channel closed with an error (the broker's consumer timeout) or a failed
            // connection (a missed heartbeat): lapin reports it and never ends the stream.
            Some(Err(e)) => break Some(e),
            None => break Some(lapin::Error::InvalidChannelState(channel.status().state())),
        }
    };
    if let Some(e) = lost {
        return Err(MessagingError::Connection(e));
    }
    // Cancelled: the broker sends this consumer nothing more (what it would send, a sync
    // handed on by this very process among it, goes to the other replicas now rather than wait
    // here for the drain), in-flight handlers finish and settle on this channel, and deliveries
    // not started go back at once ([`start`]).
    if let Err(e) = channel
        .basic_cancel(&tag, BasicCancelOptions::default())
        .await
    {
        tracing::debug!(error = %e, "Could not cancel the consumer; the channel's close ends it");
    }
    finish(handlers).await;
    let _ = channel.close(200, "shutdown").await;
    Ok(())
}

/// What a handler task needs of the session that received its delivery.
struct Session {
    channel: Channel,
    unsettled: Arc<Semaphore>,
    handler: Arc<dyn Handler>,
    broker: Arc<Broker>,
    cancel: CancellationToken,
    delivery_limit: u32,
    queue: String,
}

/// Handles one delivery once it has a place among the session's unsettled deliveries; not when
/// the process stops or the channel went away first (the broker delivers it again).
async fn start(delivery: Delivery, session: Session) {
    let place = tokio::select! {
        biased;
        () = session.cancel.cancelled() => {
            // Back to the queue now, for another replica, rather than when the channel closes
            // after the drain: a nack, which is no failure of the message's. RabbitMQ 4.3 and
            // later leave its delivery count as it was; before 4.3 (the 3.x the product runs
            // on) every return counts, a channel closing too, so nothing here avoids it
            // (`docs/configuration.md`, `[amqp] delivery_limit`).
            let requeue = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
            let _ = delivery.nack(requeue).await;
            return;
        }
        place = Arc::clone(&session.unsettled).acquire_owned() => place,
    };
    let Ok(place) = place else {
        return;
    };
    if !session.channel.status().connected() {
        tracing::debug!(
            "A delivery's channel closed before it was handled; the broker delivers it again"
        );
        return;
    }
    process(delivery, place, &session).await;
}

/// Waits for every handler in `handlers` to finish.
async fn finish(handlers: &mut JoinSet<()>) {
    reap(handlers);
    if !handlers.is_empty() {
        tracing::info!(
            handlers_running = handlers.len(),
            "Waiting for in-flight handlers"
        );
    }
    while let Some(done) = handlers.join_next().await {
        log_failure(done);
    }
}

/// Drops the handlers that have finished.
fn reap(handlers: &mut JoinSet<()>) {
    while let Some(done) = handlers.try_join_next() {
        log_failure(done);
    }
}

fn log_failure(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "A message handler task failed");
    }
}

async fn process(delivery: Delivery, place: OwnedSemaphorePermit, session: &Session) {
    let Session {
        handler,
        broker,
        cancel,
        delivery_limit,
        queue,
        ..
    } = session;
    let delivery_limit = *delivery_limit;
    let incoming = detach(&delivery, queue, place);
    let queue_label = [("queue", queue.clone())];
    metrics::counter!("leadgen_messages_delivered_total", &queue_label).increment(1);
    let started = std::time::Instant::now();
    // A consumer span (OpenTelemetry messaging conventions: RabbitMQ's destination is the
    // exchange; the queue is the subscription), a child of the producer's span. A root span
    // otherwise (no `traceparent`): not the consumer loop's, or every such message of the
    // process's life would share one trace id.
    let span = tracing::info_span!(
        parent: None,
        "process",
        otel.name = format!("process {}", incoming.exchange),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = incoming.exchange.as_str(),
        messaging.destination.subscription.name = queue.as_str(),
        messaging.rabbitmq.destination.routing_key = %incoming.routing_key,
        messaging.message.id = incoming.message_id.as_deref().unwrap_or(""),
        messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
        // Not an OpenTelemetry attribute: ours, in our namespace.
        leadgen.message.delivery_count = incoming.delivery_count,
    );
    leadgen_telemetry::set_parent_from(&span, &incoming.headers);
    async move {
        let count = incoming.delivery_count;
        // A handler that panics is retried like one that failed, not left unsettled (its
        // delivery would then wait for the broker's consumer timeout).
        let outcome = match AssertUnwindSafe(handler.handle(incoming.clone()))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!("The message handler panicked");
                Outcome::Retry("the handler panicked".into())
            }
        };
        metrics::histogram!("leadgen_message_handle_duration_seconds", &queue_label)
            .record(started.elapsed().as_secs_f64());
        if incoming.early_ack.acked() {
            // Settled already; what answers for its work (a claim and lease) handles the rest.
            if outcome != Outcome::Ack {
                tracing::warn!(outcome = ?outcome, "A message acknowledged early ended otherwise; not settled again");
            }
            return;
        }
        let dead = dead_letter_reason(&outcome, count, delivery_limit).map(str::to_owned);
        let settled = if let Some(reason) = &dead {
            handler.dead_lettered(&incoming, reason).await;
            "leadgen_messages_dead_lettered_total"
        } else if matches!(outcome, Outcome::Ack) {
            "leadgen_messages_acked_total"
        } else {
            "leadgen_messages_requeued_total"
        };
        metrics::counter!(settled, &queue_label).increment(1);
        if dead.is_none() && matches!(outcome, Outcome::Retry(_)) {
            // Not while the process stops: the message then returns with the channel.
            tokio::select! {
                () = handler.wait_until_ready() => {}
                () = cancel.cancelled() => {}
            }
        }
        let at = Settling {
            broker,
            queue,
            delivery: &delivery,
            delivery_count: count,
            delivery_limit,
        };
        settle(&at, outcome).await;
        incoming.early_ack.release();
    }
    .instrument(span)
    .await;
}

/// Why `outcome` sends its message to the dead-letter queue, if it does ([`settle`]'s rule).
pub fn dead_letter_reason(
    outcome: &Outcome,
    delivery_count: u32,
    delivery_limit: u32,
) -> Option<&str> {
    match outcome {
        Outcome::Ack => None,
        Outcome::Retry(_) if delivery_count + 1 < delivery_limit => None,
        Outcome::Retry(reason) | Outcome::Reject(reason) => Some(reason),
    }
}

/// Where a delivery is settled: the broker (for a dead letter with its cause), its queue, and
/// how often it was delivered before.
pub struct Settling<'a> {
    pub broker: &'a Broker,
    pub queue: &'a str,
    pub delivery: &'a Delivery,
    pub delivery_count: u32,
    pub delivery_limit: u32,
}

/// The one place where a handler's outcome becomes ack, delayed requeue or dead-lettering. A
/// dead letter goes out with its cause ([`crate::dead_letter`]) and the delivery is acked once
/// the broker confirmed it; should that publish fail, the delivery is rejected and the broker
/// dead-letters it without the cause.
pub async fn settle(at: &Settling<'_>, outcome: Outcome) {
    let delivery = at.delivery;
    let result = match (
        dead_letter_reason(&outcome, at.delivery_count, at.delivery_limit),
        &outcome,
    ) {
        (Some(reason), _) => dead_letter(at, reason).await,
        (None, Outcome::Retry(reason)) => {
            let delay = backoff(
                at.delivery_count + 1,
                Duration::from_millis(200),
                Duration::from_secs(5),
            );
            tracing::warn!(reason = %reason, retry_in_ms = delay.as_millis() as u64, "Message failed; requeueing");
            tokio::time::sleep(delay).await;
            // `basic.reject`, not `basic.nack`: a failure counts against the delivery limit.
            // From RabbitMQ 4.3 a quorum queue raises `x-delivery-count` on a reject only (a
            // nack means "not processed"), so a nack would requeue a poison message for ever.
            delivery.reject(BasicRejectOptions { requeue: true }).await
        }
        // An Ack (a Reject always has a dead-letter reason).
        (None, _) => delivery.ack(BasicAckOptions::default()).await,
    };
    if let Err(e) = result {
        // The channel is gone: the broker redelivers the message, and the ledger makes that safe.
        tracing::warn!(error = %e, "Could not settle a message; it will be redelivered");
    }
}

/// Dead-letters the delivery with `reason`: the copy with its cause, then the ack; the reject
/// when the copy was not confirmed.
async fn dead_letter(at: &Settling<'_>, reason: &str) -> Result<(), lapin::Error> {
    let deliveries = at.delivery_count.saturating_add(1);
    tracing::error!(reason = %reason, deliveries, "Message dead-lettered");
    let death = Death {
        queue: at.queue,
        body: &at.delivery.data,
        properties: &at.delivery.properties,
        reason,
        deliveries,
    };
    match at.broker.dead_letter(&death).await {
        Ok(()) => at.delivery.ack(BasicAckOptions::default()).await,
        Err(e) => {
            tracing::warn!(error = %e, "Could not publish the dead letter with its cause; rejecting it");
            at.delivery
                .reject(BasicRejectOptions { requeue: false })
                .await
        }
    }
}

/// `place`: the delivery's place among its session's unsettled ones, given back once it is
/// settled or acknowledged early.
fn detach(delivery: &Delivery, queue: &str, place: OwnedSemaphorePermit) -> Incoming {
    let props = &delivery.properties;
    let mut headers = HashMap::new();
    let mut delivery_count = 0;
    if let Some(table) = props.headers() {
        for (k, v) in table.inner() {
            match v {
                AMQPValue::LongString(s) => {
                    headers.insert(
                        k.to_string(),
                        String::from_utf8_lossy(s.as_bytes()).into_owned(),
                    );
                }
                AMQPValue::ShortString(s) => {
                    headers.insert(k.to_string(), s.to_string());
                }
                AMQPValue::LongLongInt(n) if k.as_str() == "x-delivery-count" => {
                    delivery_count = u32::try_from(*n).unwrap_or(u32::MAX);
                }
                AMQPValue::LongInt(n) if k.as_str() == "x-delivery-count" => {
                    delivery_count = u32::try_from(*n).unwrap_or(u32::MAX);
                }
                _ => {}
            }
        }
    }
    Incoming {
        body: delivery.data.clone(),
        message_id: props.message_id().as_ref().map(ToString::to_string),
        exchange: delivery.exchange.to_string(),
        routing_key: delivery.routing_key.to_string(),
        headers,
        delivery_count,
        redelivered: delivery.redelivered,
        early_ack: crate::EarlyAck::new(delivery.acker.clone(), queue, place),
    }
}

/// Exponential backoff with full jitter: a random delay in `[base, min(cap, base * 2^attempt)]`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let ceiling = exp.min(cap).max(base);
    let millis = rand::thread_rng().gen_range(base.as_millis()..=ceiling.as_millis());
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_bounds() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..40 {
            let d = backoff(attempt, base, cap);
            assert!(d >= base && d <= cap, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(1, base, cap) <= Duration::from_millis(200));
    }

    #[test]
    fn dead_lettering_follows_the_outcome_and_the_delivery_limit() {
        let retry = Outcome::Retry("db down".into());
        assert_eq!(dead_letter_reason(&Outcome::Ack, 9, 5), None);
        assert_eq!(dead_letter_reason(&retry, 0, 5), None);
        assert_eq!(dead_letter_reason(&retry, 3, 5), None);
        assert_eq!(dead_letter_reason(&retry, 4, 5), Some("db down"));
        let reject = Outcome::Reject("malformed".into());
        assert_eq!(dead_letter_reason(&reject, 0, 5), Some("malformed"));
    }
}
