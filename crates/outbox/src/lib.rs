//! The transactional outbox and the processed-message ledger.
//!
//! - [`enqueue`] writes an event into `t_outbox` on the caller's connection, so it commits or
//!   rolls back with the state change that caused it, as the JSON text it will be published as
//!   (serialized once, never parsed again on the way). The current W3C trace context is stored
//!   with it, so the relay publishes under the original trace. [`enqueue_after`] writes one the
//!   relay publishes no earlier than a delay from the commit's time (`not_before`): a request
//!   to be tried again later waits in the table, not in a consumer holding its delivery.
//! - [`Relay`] claims a producer's rows in id order with `FOR UPDATE SKIP LOCKED`, publishes them
//!   together and waits for their broker confirms (one disk sync for the lot, not one per
//!   event), deletes the confirmed rows and commits. While it keeps publishing full batches it
//!   reads on after the last id it published, and from the start at least every
//!   [`SWEEP_EVERY`] and whenever it caught up: the rows it deleted stay in the table until
//!   vacuumed, and a pass from the start walks all of them (a backlog's burst read a few
//!   hundred pages a pass). A row committed late below that id waits for the next pass from
//!   the start. A failed publish bumps the row's
//!   `attempts` and keeps the error text. Events go out in id order, but no order is promised
//!   (several relay replicas, a row refused and retried later): consumers do not depend on it.
//!   A crash after the confirm and before the commit publishes the row again: consumers dedupe
//!   by event id.
//! - Who waits after a failure depends on what failed. The broker as a whole (connection or
//!   channel lost, no confirm in time, blocked by a resource alarm): the relay backs off in
//!   memory (0.2 s doubling to 5 s) and tries again, so events flow within seconds of the
//!   broker's return however long it was away. The broker refusing this one message (nack,
//!   unroutable): the row waits `2^attempts` seconds (capped at 5 minutes) and the rows after
//!   it go on, so one subscriber's queue that refuses (full, `x-overflow: reject-publish`)
//!   delays its own events' copies, not every tenant's events. Each retry of a refused event
//!   delivers it again to the queues that took it (the broker refuses per message, not per
//!   queue): they dedupe by event id.
//! - [`Batch`] collects a unit of work's events and enqueues them with one statement.
//! - [`mark_processed`] records `(consumer, message id)` in the consumer's transaction; `false`
//!   means the message was already handled and must change nothing. [`forget_processed_before`]
//!   deletes the entries past the ledger's retention (order-processor's housekeeping calls it).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use leadgen_db::ScopedFutureExt;
use leadgen_db::schema::{t_outbox, t_processed_message};
use leadgen_db::{DbError, DbPool};
use leadgen_events::{CloudEvent, Event};
use leadgen_messaging::{Broker, MessagingError, OutgoingMessage};
use leadgen_settings::OutboxSettings;
use tokio_util::sync::CancellationToken;

/// Why an event could not be enqueued or relayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("cannot serialize the event: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The broker cannot take events now; the confirmed prefix of the pass was still committed.
    #[error("the broker is unavailable: {0}")]
    Unavailable(#[source] MessagingError),
}

/// Whether a failed publish says the broker as a whole is unavailable (a connection or channel
/// lost, no confirm in time, not sent), rather than that it refused this one message.
fn broker_wide(error: &MessagingError) -> bool {
    !matches!(error, MessagingError::Nacked | MessagingError::Unroutable)
}

/// Writes `event` into the outbox on `conn` (inside the caller's transaction).
pub async fn enqueue<E: Event>(
    conn: &mut AsyncPgConnection,
    producer: &str,
    event: &CloudEvent<E>,
) -> Result<(), OutboxError> {
    enqueue_not_before(conn, producer, event, None).await
}

/// [`enqueue`] for an event the relay publishes no earlier than `delay` after the database's
/// `now()` (the transaction's start).
pub async fn enqueue_after<E: Event>(
    conn: &mut AsyncPgConnection,
    producer: &str,
    event: &CloudEvent<E>,
    delay: Duration,
) -> Result<(), OutboxError> {
    enqueue_not_before(conn, producer, event, Some(delay)).await
}

async fn enqueue_not_before<E: Event>(
    conn: &mut AsyncPgConnection,
    producer: &str,
    event: &CloudEvent<E>,
    delay: Option<Duration>,
) -> Result<(), OutboxError> {
    let payload = serde_json::to_string(event)?;
    let headers = serde_json::to_value(leadgen_telemetry::inject_current())?;
    let not_before =
        diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
            "now() + make_interval(secs => ",
        )
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::Double>, _>(
            delay.map(|d| d.as_secs_f64()),
        )
        .sql(")");
    diesel::insert_into(t_outbox::table)
        .values((
            t_outbox::event_id.eq(event.id),
            t_outbox::producer.eq(producer),
            t_outbox::routing_key.eq(E::ROUTING_KEY),
            t_outbox::payload.eq(payload),
            t_outbox::headers.eq(headers),
            t_outbox::not_before.eq(not_before),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Events collected during a unit of work, written into the outbox by one statement
/// ([`Batch::enqueue`]), in the order they were pushed.
#[derive(Debug, Default)]
pub struct Batch {
    rows: Vec<(uuid::Uuid, &'static str, String)>,
}

impl Batch {
    pub fn push<E: Event>(&mut self, event: &CloudEvent<E>) -> Result<(), OutboxError> {
        self.rows
            .push((event.id, E::ROUTING_KEY, serde_json::to_string(event)?));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes every pushed event on `conn` (inside the caller's transaction), with the current
    /// trace context.
    pub async fn enqueue(
        self,
        conn: &mut AsyncPgConnection,
        producer: &str,
    ) -> Result<(), OutboxError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let headers = serde_json::to_value(leadgen_telemetry::inject_current())?;
        let values: Vec<_> = self
            .rows
            .into_iter()
            .map(|(id, key, payload)| {
                (
                    t_outbox::event_id.eq(id),
                    t_outbox::producer.eq(producer),
                    t_outbox::routing_key.eq(key),
                    t_outbox::payload.eq(payload),
                    t_outbox::headers.eq(headers.clone()),
                )
            })
            .collect();
        diesel::insert_into(t_outbox::table)
            .values(values)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Records that `consumer` handled `message_id`; `false` when it already had.
pub async fn mark_processed(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool, diesel::result::Error> {
    let inserted = diesel::insert_into(t_processed_message::table)
        .values((
            t_processed_message::consumer.eq(consumer),
            t_processed_message::message_id.eq(message_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether `consumer` already handled `message_id` (for work too long for one transaction; the
/// final transaction still calls [`mark_processed`]).
pub async fn is_processed(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool, diesel::result::Error> {
    use diesel::dsl::exists;
    diesel::select(exists(
        t_processed_message::table
            .filter(t_processed_message::consumer.eq(consumer))
            .filter(t_processed_message::message_id.eq(message_id)),
    ))
    .get_result(conn)
    .await
}

/// Forgets at most `limit` handled messages, every consumer's, recorded before `before` (the
/// ledger's retention: an entry only has to outlive its message's redeliveries); how many.
pub async fn forget_processed_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<usize, diesel::result::Error> {
    use diesel::sql_types::{BigInt, Timestamptz};
    diesel::sql_query(
        "DELETE FROM t_processed_message WHERE (consumer, message_id) IN \
         (SELECT consumer, message_id FROM t_processed_message WHERE processed_at < $1 LIMIT $2)",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(limit)
    .execute(conn)
    .await
}

#[derive(Queryable)]
struct Row {
    id: i64,
    event_id: uuid::Uuid,
    routing_key: String,
    /// The event's JSON as it will be published.
    payload: String,
    headers: serde_json::Value,
}

/// How often the relay measures its backlog.
const BACKLOG_SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// The relay's wait after a failed pass (broker or database away): from this, doubling...
const RETRY_BASE: Duration = Duration::from_millis(200);
/// ...to at most this, so events flow within seconds of the broker's return.
const RETRY_CAP: Duration = Duration::from_secs(5);

/// The most batches a stopping relay publishes before it stops (the rest wait for the next
/// process; a drain longer than the grace period would be killed anyway).
const FINAL_PASSES: usize = 20;

/// How long a relay that keeps publishing full batches reads on after the last id it published
/// before it reads from the start again (rows committed late below it, rows backing off).
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Publishes one producer's committed events.
#[derive(Clone)]
pub struct Relay {
    pool: DbPool,
    broker: Arc<Broker>,
    producer: &'static str,
    settings: OutboxSettings,
    scan: Arc<std::sync::Mutex<Scan>>,
    /// [`SWEEP_EVERY`], unless a test asks otherwise ([`Relay::sweeping_every`]).
    sweep_every: Duration,
}

/// Where the relay's next pass reads from.
#[derive(Debug, Default)]
struct Scan {
    /// The highest id published so far.
    after: i64,
    /// The last pass published a full batch: more may follow right behind it.
    full: bool,
    /// When a pass last read from the start.
    swept: Option<std::time::Instant>,
}

impl Scan {
    /// The id the next pass reads after: 0 (the start) unless it is in the middle of a burst.
    fn next_after(&self, sweep_every: Duration) -> i64 {
        let sweep_due = self.swept.is_none_or(|at| at.elapsed() >= sweep_every);
        if self.full && !sweep_due {
            self.after
        } else {
            0
        }
    }

    /// After a pass that read after `read_after` and published `published` (a refused or
    /// unsent row makes the next pass read from the start).
    fn passed(&mut self, read_after: i64, published: &[i64], batch: i64) {
        if read_after == 0 {
            self.swept = Some(std::time::Instant::now());
        }
        self.after = published.iter().copied().fold(self.after, i64::max);
        self.full = i64::try_from(published.len()).unwrap_or(i64::MAX) >= batch;
    }
}

impl Relay {
    pub fn new(
        pool: DbPool,
        broker: Arc<Broker>,
        producer: &'static str,
        settings: OutboxSettings,
    ) -> Self {
        Relay {
            pool,
            broker,
            producer,
            settings,
            scan: Arc::default(),
            sweep_every: SWEEP_EVERY,
        }
    }

    /// The same relay, reading from the start at least every `every` instead of
    /// [`SWEEP_EVERY`]: for a test that must tell a burst's passes from a sweep however slow
    /// the machine.
    pub fn sweeping_every(mut self, every: Duration) -> Self {
        self.sweep_every = every;
        self
    }

    /// Relays one batch; returns how many events were published, or
    /// [`OutboxError::Unavailable`] when the broker could not take them (after committing what
    /// it confirmed).
    pub async fn relay_once(&self) -> Result<usize, OutboxError> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let broker = Arc::clone(&self.broker);
        let producer = self.producer;
        let batch = self.settings.batch_size;
        let sweep_every = self.sweep_every;
        let after = self
            .scan
            .lock()
            .map_or(0, |scan| scan.next_after(sweep_every));
        let (published, unavailable) = conn.transaction::<_, OutboxError, _>(|conn| {
            async move {
                // The producer's rows in id order, but those backing off after the broker
                // refused them: one refused event (a subscriber's full queue) holds up no other.
                // The exponent is capped before `power` (2^1024 overflows a double, and a row
                // refused for days, or counted through an outage, reaches that many attempts).
                let rows: Vec<Row> = t_outbox::table
                    .filter(t_outbox::producer.eq(producer))
                    .filter(t_outbox::id.gt(after))
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "(last_attempt_at IS NULL OR last_attempt_at < now() - make_interval(secs => LEAST(power(2, LEAST(attempts, 9)), 300))) \
                         AND (not_before IS NULL OR not_before <= now())",
                    ))
                    .order(t_outbox::id.asc())
                    .limit(batch)
                    .select((
                        t_outbox::id,
                        t_outbox::event_id,
                        t_outbox::routing_key,
                        t_outbox::payload,
                        t_outbox::headers,
                    ))
                    .for_update()
                    .skip_locked()
                    .load(conn)
                    .await?;
                // Sent together, confirmed together; every confirmed row is done. A row the
                // broker refused backs off on its own and the others go on; the broker away
                // stops the pass, and the rows after the failure stay for the next one (those
                // the broker already took are delivered again; consumers dedupe by event id).
                let mut ids = Vec::with_capacity(rows.len());
                let mut messages = Vec::with_capacity(rows.len());
                for row in rows {
                    ids.push(row.id);
                    messages.push(OutgoingMessage {
                        routing_key: row.routing_key,
                        message_id: row.event_id.to_string(),
                        payload: row.payload.into_bytes(),
                        headers: serde_json::from_value(row.headers).unwrap_or_default(),
                    });
                }
                let results = broker.publish_all(&messages).await;
                let mut published = Vec::with_capacity(ids.len());
                // Per event type (a routing key: a fixed set), so a subscriber's team can see
                // whether its events leave at all.
                let mut per_type: std::collections::BTreeMap<&str, u64> = Default::default();
                let mut unavailable = None;
                for ((id, message), result) in ids.into_iter().zip(&messages).zip(results) {
                    match result {
                        Ok(()) => {
                            published.push(id);
                            *per_type.entry(message.routing_key.as_str()).or_default() += 1;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, outbox.id = id, "Could not publish an event; will retry");
                            // The row's own backoff only when the broker refused this message;
                            // a broker away is waited for by the relay, not charged to the row.
                            let wide = broker_wide(&e);
                            let attempted = if wide { "last_attempt_at" } else { "now()" };
                            diesel::update(t_outbox::table.find(id))
                                .set((
                                    t_outbox::attempts.eq(t_outbox::attempts + 1),
                                    t_outbox::last_error.eq(e.to_string()),
                                    t_outbox::last_attempt_at.eq(diesel::dsl::sql::<
                                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                                    >(attempted)),
                                ))
                                .execute(conn)
                                .await?;
                            if wide {
                                unavailable = Some(e);
                                break;
                            }
                        }
                    }
                }
                diesel::delete(t_outbox::table.filter(t_outbox::id.eq_any(&published))).execute(conn).await?;
                for (routing_key, n) in per_type {
                    metrics::counter!("leadgen_outbox_published_total", "routing_key" => routing_key.to_owned()).increment(n);
                }
                Ok((published, unavailable))
            }
            .scope_boxed()
        })
        .await?;
        if let Ok(mut scan) = self.scan.lock() {
            scan.passed(after, &published, batch);
        }
        // The pooled connection goes back before any wait on the broker.
        drop(conn);
        match unavailable {
            Some(e) => Err(OutboxError::Unavailable(e)),
            // Nothing to publish: the connection is kept open all the same (reopened after a
            // broker restart, with the relay's backoff), outside the transaction, so that the
            // readiness check and `leadgen_dependency_up` say how the broker is, and the next
            // event goes out without waiting for a connection.
            None if published.is_empty() => {
                self.broker
                    .ensure_connected()
                    .await
                    .map_err(OutboxError::Unavailable)?;
                Ok(0)
            }
            None => Ok(published.len()),
        }
    }

    /// Relays until `cancel` fires: immediately again after a full batch, otherwise after the
    /// poll interval. Finishes the batch in hand before returning.
    pub async fn run(self, cancel: CancellationToken) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms);
        let mut sampled: Option<std::time::Instant> = None;
        // Consecutive passes the broker (or the database) failed.
        let mut failures = 0;
        loop {
            let relayed = self.relay_once().await;
            // Measured after the pass, so a process's first pass starts at once.
            if sampled.is_none_or(|at| at.elapsed() >= BACKLOG_SAMPLE_EVERY) {
                sampled = Some(std::time::Instant::now());
                if let Err(e) = self.sample_backlog().await {
                    tracing::warn!(error = %e, producer = self.producer, "Could not measure the outbox backlog");
                }
            }
            let wait = match relayed {
                Ok(n) => {
                    failures = 0;
                    if i64::try_from(n).unwrap_or(i64::MAX) >= self.settings.batch_size {
                        Duration::ZERO
                    } else {
                        idle
                    }
                }
                Err(e) => {
                    failures += 1;
                    let wait =
                        leadgen_messaging::consumer::backoff(failures, RETRY_BASE, RETRY_CAP);
                    tracing::warn!(error = %format!("{e:#}"), producer = self.producer, retry_in_ms = wait.as_millis() as u64, "Outbox relay failed; retrying");
                    wait
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        // A last drain: what was written while this pass waited goes out before the stop, rows
        // committed late below the last id included (each pass reads from the start).
        for _ in 0..FINAL_PASSES {
            if let Ok(mut scan) = self.scan.lock() {
                scan.full = false;
            }
            match self.relay_once().await {
                Ok(n) if i64::try_from(n).unwrap_or(i64::MAX) >= self.settings.batch_size => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), producer = self.producer, "Outbox relay could not publish before stopping; the next process publishes the rest");
                    break;
                }
            }
        }
        tracing::info!(producer = self.producer, "Outbox relay stopped");
    }

    /// Sets the backlog gauges (`docs/metrics.md`): events waiting and the oldest one's age,
    /// an event delayed on purpose counted from the time it may go (`not_before`).
    pub async fn sample_backlog(&self) -> Result<(), OutboxError> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        let (waiting, oldest): (i64, Option<DateTime<Utc>>) = t_outbox::table
            .filter(t_outbox::producer.eq(self.producer))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>>(
                    "min(coalesce(not_before, created_at))",
                ),
            ))
            .first(&mut conn)
            .await?;
        let age = oldest.map_or(0.0, |t| {
            (Utc::now() - t).num_milliseconds().max(0) as f64 / 1e3
        });
        metrics::gauge!("leadgen_outbox_backlog").set(waiting as f64);
        metrics::gauge!("leadgen_outbox_oldest_age_seconds").set(age);
        Ok(())
    }

    /// Events of this producer still waiting to be published.
    pub async fn pending(&self) -> Result<i64, OutboxError> {
        let mut conn = leadgen_db::conn(&self.pool).await?;
        Ok(t_outbox::table
            .filter(t_outbox::producer.eq(self.producer))
            .count()
            .get_result(&mut conn)
            .await?)
    }
}
