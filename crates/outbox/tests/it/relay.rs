//! The relay: committed outbox rows reach the broker once, in id order, survive a broker away
//! without a backoff of their own, and back off each on its own when the broker refuses them.

use std::collections::HashSet;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use leadgen_db::ScopedFutureExt;
use leadgen_db::schema::t_outbox;
use leadgen_events::{CloudEvent, SyncRequestedV1};
use leadgen_outbox::{OutboxError, Relay};
use tracing::Instrument;

use crate::support::{
    Behaviour, CONSUMER, Fixture, Probe, ROUTING_KEY, eventually, init_telemetry, sync_event,
};

const PRODUCER: &str = "test";

fn relay(fx: &Fixture) -> Relay {
    Relay::new(
        fx.db.pool.clone(),
        fx.broker.clone(),
        PRODUCER,
        leadgen_test_support::outbox_settings(),
    )
}

/// Enqueues `events` in one committed transaction.
async fn enqueue_committed(fx: &Fixture, events: &[CloudEvent<SyncRequestedV1>]) {
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    let events = events.to_vec();
    conn.transaction::<(), OutboxError, _>(|conn| {
        async move {
            for event in &events {
                leadgen_outbox::enqueue(conn, PRODUCER, event).await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await
    .expect("commit the outbox rows");
}

/// `(event id, attempts, last_error)` of the remaining rows, in id order.
async fn outbox_rows(fx: &Fixture) -> Vec<(uuid::Uuid, i32, Option<String>)> {
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    t_outbox::table
        .order(t_outbox::id.asc())
        .select((t_outbox::event_id, t_outbox::attempts, t_outbox::last_error))
        .load(&mut conn)
        .await
        .expect("load outbox rows")
}

/// Makes the next publish fail: the events exchange disappears, so the broker closes the
/// publishing channel with 404. The broker re-declares the topology when it reopens.
async fn delete_events_exchange(fx: &Fixture) {
    let channel = fx.broker.consumer_channel().await.expect("admin channel");
    channel
        .exchange_delete(
            &fx.topology().events_exchange(),
            ExchangeDeleteOptions::default(),
        )
        .await
        .expect("delete the events exchange");
    let _ = channel.close(200, "done").await;
}

fn message_ids(messages: &[lapin::message::BasicGetMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_are_relayed_once_in_order_and_consumed_with_trace_context() {
    const AUDIT: &str = "audit";
    init_telemetry();
    let fx = Fixture::new(&[CONSUMER, AUDIT]).await;
    let committed = vec![sync_event(1), sync_event(2), sync_event(3)];
    let rolled_back = sync_event(4);

    let span = tracing::error_span!("it.enqueue");
    let traceparent = async {
        enqueue_committed(&fx, &committed).await;
        let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
        let event = rolled_back.clone();
        let result = conn
            .transaction::<(), OutboxError, _>(|conn| {
                async move {
                    leadgen_outbox::enqueue(conn, PRODUCER, &event).await?;
                    Err(diesel::result::Error::RollbackTransaction.into())
                }
                .scope_boxed()
            })
            .await;
        assert!(result.is_err(), "the second transaction rolls back");
        leadgen_telemetry::inject_current().remove("traceparent")
    }
    .instrument(span)
    .await
    .expect("the enqueueing span has a W3C trace context");

    let relay = relay(&fx);
    assert_eq!(relay.pending().await.expect("pending"), 3);
    assert_eq!(relay.relay_once().await.expect("relay"), 3);
    assert_eq!(relay.pending().await.expect("pending"), 0);
    assert!(outbox_rows(&fx).await.is_empty(), "published rows deleted");
    assert_eq!(
        relay.relay_once().await.expect("relay"),
        0,
        "nothing left to publish"
    );

    // A second queue bound to the same key shows exactly what was published, in order.
    let published = fx.drain(&fx.queue(AUDIT)).await;
    let expected_ids: Vec<String> = committed.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(message_ids(&published), expected_ids);
    for (message, event) in published.iter().zip(&committed) {
        let props = &message.delivery.properties;
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/cloudevents+json; charset=utf-8"),
            "structured mode of the CloudEvents AMQP binding"
        );
        assert_eq!(*props.delivery_mode(), Some(2), "persistent");
        assert_eq!(props.kind().as_ref().map(|s| s.as_str()), Some(ROUTING_KEY));
        assert_eq!(message.delivery.routing_key.as_str(), ROUTING_KEY);
        let body = CloudEvent::<SyncRequestedV1>::from_slice(&message.delivery.data)
            .expect("a valid envelope");
        assert_eq!(&body, event);
    }

    let probe = Probe::new(Behaviour::Ack);
    let running = fx.spawn_consumer(CONSUMER, probe.clone());
    eventually(Duration::from_secs(15), "3 messages handled", || async {
        probe.finished() >= 3
    })
    .await;
    // Nothing else shows up (the rolled-back event in particular).
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await.expect("consumer stops cleanly");

    let calls = probe.calls();
    assert_eq!(calls.len(), 3, "each event handled once: {calls:?}");
    let handled: HashSet<String> = calls.iter().filter_map(|m| m.message_id.clone()).collect();
    assert_eq!(handled, expected_ids.iter().cloned().collect());
    assert!(!handled.contains(&rolled_back.id.to_string()));
    for call in &calls {
        assert_eq!(call.routing_key, ROUTING_KEY);
        // The trace captured at enqueue time travels with the message; its parent is now the
        // relay's producer span (a child of the enqueuing span), so only the trace id is equal.
        let trace_of = |tp: &str| tp.split('-').nth(1).map(str::to_owned);
        let carried = call.headers.get("traceparent").expect("traceparent");
        assert_eq!(
            trace_of(carried),
            trace_of(&traceparent),
            "trace context captured at enqueue time travels with the message"
        );
        assert_ne!(carried, &traceparent, "the producer span is the parent");
        assert_eq!(call.delivery_count, 0);
    }
    assert_eq!(fx.ready(&fx.queue(CONSUMER)).await, 0);
    assert_eq!(fx.ready(&fx.dlq(CONSUMER)).await, 0);
    fx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_away_is_waited_for_by_the_relay_not_charged_to_the_row() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let events = vec![sync_event(1), sync_event(2), sync_event(3)];
    enqueue_committed(&fx, &events).await;
    let relay = relay(&fx);

    delete_events_exchange(&fx).await;
    let failed = relay.relay_once().await;
    assert!(
        matches!(failed, Err(OutboxError::Unavailable(_))),
        "a channel closed by the broker is the broker unavailable: {failed:?}"
    );
    let rows = outbox_rows(&fx).await;
    assert_eq!(rows.len(), 3, "nothing deleted: {rows:?}");
    assert_eq!(rows[0].0, events[0].id);
    assert_eq!(rows[0].1, 1, "attempts incremented");
    let error = rows[0].2.clone().expect("last_error set");
    assert!(!error.is_empty());
    for row in &rows[1..] {
        assert_eq!((row.1, row.2.as_deref()), (0, None), "later rows untouched");
    }

    // The broker is back (the relay reconnects and re-declares the exchange and the queue's
    // binding): the row does not sit out a backoff of its own.
    assert_eq!(relay.relay_once().await.expect("relay"), 3);
    assert_eq!(relay.pending().await.expect("pending"), 0);
    assert_eq!(relay.relay_once().await.expect("relay"), 0);

    let published = fx.drain(&fx.queue(CONSUMER)).await;
    let expected: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        message_ids(&published),
        expected,
        "each row published once, in id order"
    );
    eprintln!("broker away recorded as: {error}");
    fx.close().await;
}

/// Makes the broker refuse the next publish on its own: no queue is bound for its routing key
/// and the parked queue behind the alternate exchange is gone, so a mandatory publish comes
/// back unroutable.
async fn make_unroutable(fx: &Fixture) {
    let channel = fx.broker.consumer_channel().await.expect("admin channel");
    channel
        .queue_unbind(
            &fx.queue(CONSUMER),
            &fx.topology().events_exchange(),
            ROUTING_KEY,
            FieldTable::default(),
        )
        .await
        .expect("unbind the consumer's queue");
    channel
        .queue_delete(
            &fx.topology().unrouted_parked(),
            QueueDeleteOptions::default(),
        )
        .await
        .expect("delete the parked queue");
    let _ = channel.close(200, "done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_rows_back_off_each_on_its_own() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let events = vec![sync_event(1), sync_event(2), sync_event(3)];
    enqueue_committed(&fx, &events).await;
    let relay = relay(&fx);

    make_unroutable(&fx).await;
    assert_eq!(
        relay
            .relay_once()
            .await
            .expect("a refused message is not the broker unavailable"),
        0
    );
    // The next pass comes within the rows' backoff (2 s): none is sent again.
    assert_eq!(relay.relay_once().await.expect("relay"), 0);
    let rows = outbox_rows(&fx).await;
    let attempts: Vec<i32> = rows.iter().map(|r| r.1).collect();
    assert_eq!(attempts, vec![1, 1, 1], "{rows:?}");
    let error = rows[0].2.clone().expect("last_error set");
    assert!(error.contains("routed"), "{error}");
    assert_eq!(relay.pending().await.expect("pending"), 3);
    fx.close().await;
}

/// A row refused for days (or counted through a long outage) has thousands of attempts: its
/// backoff stays at its cap, and the relay goes on publishing (2^1024 overflows a double).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_refused_thousands_of_times_backs_off_at_the_cap_and_stops_no_relay() {
    let fx = Fixture::new(&[CONSUMER]).await;
    enqueue_committed(&fx, &[sync_event(1), sync_event(2)]).await;
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    let first: i64 = t_outbox::table
        .order(t_outbox::id.asc())
        .select(t_outbox::id)
        .first(&mut conn)
        .await
        .expect("first row");
    // Refused 2000 times, last 299 s ago: still within the 300 s cap.
    diesel::update(t_outbox::table.find(first))
        .set((
            t_outbox::attempts.eq(2000),
            t_outbox::last_attempt_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("now() - interval '299 seconds'")),
        ))
        .execute(&mut conn)
        .await
        .expect("age the row");
    let relay = relay(&fx);
    assert_eq!(relay.relay_once().await.expect("relay"), 1);
    // Past the cap it is sent again.
    diesel::update(t_outbox::table.find(first))
        .set(t_outbox::last_attempt_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("now() - interval '301 seconds'")))
        .execute(&mut conn)
        .await
        .expect("age the row");
    assert_eq!(relay.relay_once().await.expect("relay"), 1);
    assert_eq!(relay.pending().await.expect("pending"), 0);
    fx.close().await;
}

/// Another team's queue that refuses what it is sent (full, `x-overflow: reject-publish`)
/// holds up only its own events: the relay publishes the rows after the refused one, once,
/// and the refused one when the queue takes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_queue_that_refuses_holds_up_no_other_event() {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    use lapin::types::{AMQPValue, LongString, ShortString};
    const TRAPPED_KEY: &str = "lead.updated.v1";

    let fx = Fixture::new(&[CONSUMER]).await;
    let trap = format!("{}.team-trap", fx.prefix());
    let channel = fx.broker.consumer_channel().await.expect("admin channel");
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-max-length"), AMQPValue::LongLongInt(0));
    args.insert(
        ShortString::from("x-overflow"),
        AMQPValue::LongString(LongString::from(b"reject-publish".to_vec())),
    );
    channel
        .queue_declare(&trap, QueueDeclareOptions::default(), args)
        .await
        .expect("declare the subscriber's queue");
    channel
        .queue_bind(
            &trap,
            &fx.topology().events_exchange(),
            TRAPPED_KEY,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind it");

    let events = vec![sync_event(1), sync_event(2), sync_event(3)];
    enqueue_committed(&fx, &events).await;
    // The first row is the refused team's event.
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    diesel::update(t_outbox::table.filter(t_outbox::event_id.eq(events[0].id)))
        .set(t_outbox::routing_key.eq(TRAPPED_KEY))
        .execute(&mut conn)
        .await
        .expect("route the first row to the subscriber");
    drop(conn);

    let relay = relay(&fx);
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    assert_eq!(
        relay.relay_once().await.expect("relay"),
        0,
        "within backoff"
    );
    let delivered = message_ids(&fx.drain(&fx.queue(CONSUMER)).await);
    assert_eq!(
        delivered,
        vec![events[1].id.to_string(), events[2].id.to_string()],
        "the later events once each"
    );
    let rows = outbox_rows(&fx).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0, rows[0].1), (events[0].id, 1), "{rows:?}");
    let error = rows[0].2.clone().expect("last_error set");
    assert!(error.contains("reject-publish"), "{error}");

    // The team's queue goes away: the event is parked like any unrouted one, and done.
    channel
        .queue_delete(&trap, QueueDeleteOptions::default())
        .await
        .expect("delete the subscriber's queue");
    let _ = channel.close(200, "done").await;
    eventually(
        Duration::from_secs(10),
        "the refused row is relayed",
        || async {
            relay.relay_once().await.expect("relay");
            relay.pending().await.expect("pending") == 0
        },
    )
    .await;
    fx.close().await;
}

/// A stopping relay publishes what was committed while it waited between passes, instead of
/// leaving it for the next process (a SIGTERM while a drained sync was still writing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_relay_publishes_what_was_committed_meanwhile() {
    const AUDIT: &str = "audit";
    let fx = Fixture::new(&[CONSUMER, AUDIT]).await;
    let mut settings = leadgen_test_support::outbox_settings();
    settings.poll_interval_ms = 3_600_000;
    let relay = Relay::new(fx.db.pool.clone(), fx.broker.clone(), PRODUCER, settings);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(relay.run(stop.clone()));
    // Its first pass finds nothing; then it waits an hour.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = sync_event(7);
    enqueue_committed(&fx, std::slice::from_ref(&late)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the relay stops at once")
        .expect("the relay task");
    assert!(
        outbox_rows(&fx).await.is_empty(),
        "published before stopping"
    );
    let published = fx.drain(&fx.queue(AUDIT)).await;
    assert_eq!(message_ids(&published), [late.id.to_string()]);
    fx.close().await;
}

/// Begins a transaction on its own connection and enqueues `event` in it, left uncommitted:
/// its row holds a lower id than the rows committed meanwhile.
async fn enqueue_uncommitted(
    fx: &Fixture,
    event: &CloudEvent<SyncRequestedV1>,
) -> leadgen_db::PooledConn {
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    diesel::sql_query("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    leadgen_outbox::enqueue(&mut conn, PRODUCER, event)
        .await
        .expect("enqueue");
    conn
}

async fn commit(mut conn: leadgen_db::PooledConn) {
    diesel::sql_query("COMMIT")
        .execute(&mut conn)
        .await
        .expect("commit");
}

/// In a burst (full batches) the relay reads on after the last id it published, so it does not
/// walk the rows it deleted again; a row committed late below that id is published by the next
/// pass from the start: once the relay caught up, or after `SWEEP_EVERY` of bursts.
#[tokio::test]
async fn a_row_committed_late_below_a_burst_is_published_by_the_next_pass_from_the_start() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let new_relay = || {
        Relay::new(
            fx.db.pool.clone(),
            fx.broker.clone(),
            PRODUCER,
            leadgen_settings::OutboxSettings {
                poll_interval_ms: 50,
                batch_size: 2,
            },
        )
    };
    // No sweep comes between two passes here, however slow the machine.
    let relay = new_relay().sweeping_every(std::time::Duration::from_secs(3600));
    let left = |rows: Vec<(uuid::Uuid, i32, Option<String>)>| {
        rows.into_iter().map(|(id, _, _)| id).collect::<Vec<_>>()
    };
    let events: Vec<_> = (1..=9).map(sync_event).collect();

    let late = enqueue_uncommitted(&fx, &events[0]).await;
    enqueue_committed(&fx, &events[1..3]).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 2, "a full batch");
    commit(late).await;
    enqueue_committed(&fx, &events[3..4]).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 1);
    assert_eq!(
        left(outbox_rows(&fx).await),
        [events[0].id],
        "the late row waits"
    );
    assert_eq!(
        relay.relay_once().await.expect("relay"),
        1,
        "caught up: from the start"
    );
    assert!(outbox_rows(&fx).await.is_empty());

    // Bursts that go on: the pass after SWEEP_EVERY reads from the start (a relay sweeping
    // as the services' do; its first pass reads from the start too).
    let relay = new_relay();
    let late = enqueue_uncommitted(&fx, &events[4]).await;
    enqueue_committed(&fx, &events[5..7]).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    commit(late).await;
    enqueue_committed(&fx, &events[7..9]).await;
    tokio::time::sleep(leadgen_outbox::SWEEP_EVERY).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 2);
    assert_eq!(left(outbox_rows(&fx).await), [events[8].id]);

    let published = message_ids(&fx.drain(&fx.queue(CONSUMER)).await);
    let order = [1, 2, 3, 0, 5, 6, 4, 7];
    let expected: Vec<String> = order.iter().map(|&i| events[i].id.to_string()).collect();
    assert_eq!(published, expected);
}

/// A row enqueued to go later (a request sent back to the queue to be tried again) is not
/// published before its time, holds up none of the rows behind it, and goes once its time comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_row_waits_for_its_time_and_holds_up_no_other() {
    let fx = Fixture::new(&[CONSUMER]).await;
    let (later, now) = (sync_event(1), sync_event(2));
    let mut conn = leadgen_db::conn(&fx.db.pool).await.expect("db connection");
    leadgen_outbox::enqueue_after(&mut conn, PRODUCER, &later, Duration::from_millis(1500))
        .await
        .expect("enqueue later");
    leadgen_outbox::enqueue(&mut conn, PRODUCER, &now)
        .await
        .expect("enqueue now");
    drop(conn);
    let relay = relay(&fx);
    assert_eq!(
        relay.relay_once().await.expect("relay"),
        1,
        "only the row due now"
    );
    let left: Vec<uuid::Uuid> = outbox_rows(&fx).await.iter().map(|r| r.0).collect();
    assert_eq!(left, vec![later.id]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(relay.relay_once().await.expect("relay"), 1, "its time came");
    assert!(outbox_rows(&fx).await.is_empty());
    fx.close().await;
}
