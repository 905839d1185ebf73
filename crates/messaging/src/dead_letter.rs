//! Dead-lettering with the cause. A consumer that gives up on a message publishes it to the
//! dead-letter exchange itself, under its queue's name (the DLQ's binding), with why in its
//! headers, and acks it once the broker confirmed the copy: the broker's own dead-lettering (a
//! reject) records only `rejected` and a count in `x-death`, and the cause was left in the
//! consumer's log. Should that publish fail, the consumer rejects as before, so nothing is
//! lost either way (`leadctl dlq show` reads both kinds).

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use crate::broker::{Broker, MessagingError};

/// Why the consumer gave up (the handler's words, at most [`MAX_REASON_CHARS`]).
pub const DEATH_REASON: &str = "x-leadgen-death-reason";
/// The queue it was consumed from.
pub const DEATH_QUEUE: &str = "x-leadgen-death-queue";
/// How many deliveries it had, this one included.
pub const DEATH_DELIVERIES: &str = "x-leadgen-death-deliveries";
/// When (an AMQP timestamp: seconds since the epoch).
pub const DEATH_TIME: &str = "x-leadgen-death-time";

/// The headers this module adds, which a replay drops.
pub fn is_death_header(key: &str) -> bool {
    key.starts_with("x-leadgen-death-")
}

/// Set by `leadctl dlq replay` on every message it puts back: a consumer can tell an operator's
/// replay of a dead letter from a duplicate delivery of the same request (a resend still queued,
/// a redelivery), which must not undo what the dead-lettering ended.
pub const REPLAYED: &str = "x-leadgen-replayed";

/// A reason longer than this is cut (a handler's error chain can be long).
pub const MAX_REASON_CHARS: usize = 1000;

/// What a dead letter carries: the delivery's body and properties, and why it died.
pub struct Death<'a> {
    pub queue: &'a str,
    pub body: &'a [u8],
    pub properties: &'a BasicProperties,
    pub reason: &'a str,
    pub deliveries: u32,
}

impl Broker {
    /// Publishes `death` to the dead-letter exchange, with its cause in the headers, and waits
    /// for the broker's confirm. The caller acks the delivery only after this succeeded.
    pub async fn dead_letter(&self, death: &Death<'_>) -> Result<(), MessagingError> {
        let (channel, status) = self.publisher().await?;
        // Nothing is queued on a connection the broker blocks (it would go out after the
        // alarm, beside the copy the broker dead-letters once the delivery is rejected).
        if status.blocked() {
            return Err(MessagingError::Blocked);
        }
        let mut headers = FieldTable::default();
        if let Some(kept) = death.properties.headers() {
            for (key, value) in kept.inner() {
                if key.as_str() != "x-delivery-count" && !is_death_header(key.as_str()) {
                    headers.insert(key.clone(), value.clone());
                }
            }
        }
        let text = |s: &str| AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()));
        let reason: String = death.reason.chars().take(MAX_REASON_CHARS).collect();
        headers.insert(ShortString::from(DEATH_REASON), text(&reason));
        headers.insert(ShortString::from(DEATH_QUEUE), text(death.queue));
        headers.insert(
            ShortString::from(DEATH_DELIVERIES),
            AMQPValue::LongLongInt(i64::from(death.deliveries)),
        );
        headers.insert(
            ShortString::from(DEATH_TIME),
            AMQPValue::Timestamp(crate::broker::epoch_seconds()),
        );
        let properties = death.properties.clone().with_headers(headers);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        // Bounded as every send is ([`Broker::publish_all`]): a blocked connection must not
        // hold the delivery, and the handler's place, for the whole of an alarm.
        let sent = tokio::time::timeout(
            self.confirm_timeout(),
            channel.basic_publish(
                &self.topology().dead_letter_exchange(),
                death.queue,
                options,
                death.body,
                properties,
            ),
        )
        .await;
        let result = match sent {
            Ok(Ok(confirm)) => {
                let deadline = tokio::time::Instant::now() + self.confirm_timeout();
                self.settle_by(confirm, deadline).await
            }
            Ok(Err(e)) => Err(MessagingError::Connection(e)),
            Err(_) => Err(MessagingError::SendTimeout(self.confirm_timeout())),
        };
        if matches!(
            result,
            Err(MessagingError::Connection(_) | MessagingError::ConfirmTimeout(_))
        ) {
            self.forget_connection().await;
        }
        result
    }
}
