//! Reading a dead letter: why the consumer gave up on it (`x-leadgen-death-*`,
//! `leadgen_messaging::dead_letter`), its `x-death` history when the broker dead-lettered it,
//! the routing key it was published with (and whether the consumer binds it, for a replay),
//! and the properties a replay republishes it with, without the headers either added.

use chrono::{DateTime, SecondsFormat};
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, ShortString};

use super::Consumer;

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

/// Why the consumer dead-lettered a message, as it said in the headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub queue: String,
    /// Deliveries, the last included.
    pub deliveries: i64,
    /// When (seconds since the epoch).
    pub time: Option<u64>,
}

/// The consumer's [`Cause`] in `headers`, when it dead-lettered the message itself.
pub fn cause(headers: &FieldTable) -> Option<Cause> {
    use leadgen_messaging::dead_letter::{DEATH_DELIVERIES, DEATH_QUEUE, DEATH_REASON, DEATH_TIME};
    let field = |key: &str| headers.inner().get(key);
    Some(Cause {
        reason: field(DEATH_REASON).and_then(text)?,
        queue: field(DEATH_QUEUE).and_then(text).unwrap_or_default(),
        deliveries: field(DEATH_DELIVERIES).and_then(integer).unwrap_or(0),
        time: field(DEATH_TIME).and_then(AMQPValue::as_timestamp),
    })
}

/// A dead letter as `show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: Option<String>,
    /// The `type` property (the routing key it was published with).
    pub kind: Option<String>,
    /// The routing key `replay` would use.
    pub routing_key: Option<String>,
    /// Why the consumer gave up, when it dead-lettered the message itself.
    pub cause: Option<Cause>,
    /// The broker's record, when it dead-lettered the message (a reject, a delivery limit).
    pub deaths: Vec<Death>,
    pub first_death_reason: Option<String>,
    /// The `timestamp` property (seconds since the epoch), when the publisher set one.
    pub timestamp: Option<u64>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl DeadLetter {
    pub(super) fn read(delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let headers = properties.headers().as_ref();
        DeadLetter {
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            kind: properties.kind().as_ref().map(ToString::to_string),
            routing_key: original_routing_key(properties),
            cause: headers.and_then(cause),
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
pub(super) fn replay_key(
    properties: &BasicProperties,
    consumer: &Consumer,
) -> Result<String, String> {
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

/// The headers the broker (or the consumer, saying why) added on dead-lettering or delivery,
/// which a replay drops.
fn is_broker_header(key: &str) -> bool {
    matches!(key, "x-death" | "x-delivery-count" | "x-acquired-count")
        || key.starts_with("x-first-death-")
        || key.starts_with("x-last-death-")
        || leadgen_messaging::dead_letter::is_death_header(key)
}

/// `properties` for a replay: the same, without the headers the broker added, without
/// `user_id` (the broker checks it against the replaying connection's user), and marked as a
/// replay (`leadgen_messaging::dead_letter::REPLAYED`).
pub fn replay_properties(properties: &BasicProperties) -> BasicProperties {
    let mut kept = FieldTable::default();
    if let Some(headers) = properties.headers() {
        for (key, value) in headers.inner() {
            if !is_broker_header(key.as_str()) {
                kept.insert(key.clone(), value.clone());
            }
        }
    }
    // What tells the consumer this is an operator's replay, not a duplicate delivery.
    kept.insert(
        ShortString::from(leadgen_messaging::dead_letter::REPLAYED),
        AMQPValue::LongString(b"leadctl".to_vec().into()),
    );
    let mut replayed = BasicProperties::default().with_headers(kept);
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

pub(super) fn message_id(properties: &BasicProperties) -> String {
    properties
        .message_id()
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

pub(super) fn format_time(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .map_or_else(
            || seconds.to_string(),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

#[cfg(test)]
mod tests {
    use lapin::types::{FieldArray, LongString, ShortString};

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
        // The trace context stays; the broker's and the consumer's death headers go; the
        // replay's mark is added.
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["traceparent", leadgen_messaging::dead_letter::REPLAYED]
        );
        assert_eq!(replayed.content_type(), original.content_type());
        assert_eq!(replayed.delivery_mode(), original.delivery_mode());
        assert_eq!(replayed.message_id(), original.message_id());
        assert_eq!(replayed.kind(), original.kind());
        assert_eq!(replayed.timestamp(), original.timestamp());
        assert_eq!(replayed.correlation_id(), original.correlation_id());
        assert_eq!(*replayed.user_id(), None);
    }
}
