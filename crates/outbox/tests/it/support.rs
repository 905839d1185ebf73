//! Shared fixtures: a database and a broker prefix per test, a scriptable handler, broker
//! inspection through passive declares and `basic.get`, and forced connection loss through
//! `rabbitmqctl`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use leadgen_db::oplog::{Entry, Operator};
use leadgen_db::schema::t_operation_log;
use leadgen_db::{DbPool, ScopedFutureExt};
use leadgen_domain::{PlatformType, SyncTrigger};
use leadgen_events::{CloudEvent, SyncRequestedV1};
use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, Incoming, MessagingError, Outcome, OutgoingMessage};
use leadgen_messaging::{QueueSpec, Topology};
use leadgen_outbox::OutboxError;
use leadgen_telemetry::TelemetryGuard;
use leadgen_test_support::{TestBroker, TestDb};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The consumer (queue suffix and ledger name) most tests use.
pub const CONSUMER: &str = "c";
/// The routing key of [`sync_event`].
pub const ROUTING_KEY: &str = leadgen_events::routing::SYNC_REQUESTED_V1;
/// The delivery limit [`TestBroker::settings`] declares.
pub const DELIVERY_LIMIT: u32 = 5;

/// Installs the global subscriber once per process so spans carry an OpenTelemetry context
/// (without it `inject_current` has no `traceparent` to write).
pub fn init_telemetry() {
    static GUARD: OnceLock<Option<TelemetryGuard>> = OnceLock::new();
    GUARD.get_or_init(|| {
        leadgen_telemetry::init(&leadgen_test_support::telemetry_settings(), "outbox-it").ok()
    });
}

/// A database, a broker prefix and a connected [`Broker`] of this test's own.
pub struct Fixture {
    pub broker: Arc<Broker>,
    pub db: TestDb,
    pub test_broker: TestBroker,
}

impl Fixture {
    /// One queue per consumer name, each bound to [`ROUTING_KEY`].
    pub async fn new(consumers: &[&'static str]) -> Self {
        let queues = consumers
            .iter()
            .map(|c| QueueSpec {
                consumer: c,
                routing_keys: vec![ROUTING_KEY],
            })
            .collect::<Vec<_>>();
        let test_broker = TestBroker::new(queues.clone());
        let db = TestDb::new().await;
        let broker = Broker::connect(&test_broker.settings(), queues)
            .await
            .expect("connect to the test broker");
        Fixture {
            broker,
            db,
            test_broker,
        }
    }

    /// Closes the broker connection before the test's runtime goes away.
    pub async fn close(self) {
        self.broker.close().await;
    }

    pub fn prefix(&self) -> &str {
        &self.test_broker.prefix
    }

    pub fn topology(&self) -> &Topology {
        self.broker.topology()
    }

    pub fn queue(&self, consumer: &str) -> String {
        self.topology().queue(consumer)
    }

    pub fn dlq(&self, consumer: &str) -> String {
        self.topology().dead_letter_queue(consumer)
    }

    /// Ready messages in `queue` (a passive declare on a channel of its own).
    pub async fn ready(&self, queue: &str) -> u32 {
        let channel = self
            .broker
            .consumer_channel()
            .await
            .expect("inspection channel");
        let declared = channel
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("passive declare");
        let _ = channel.close(200, "inspected").await;
        declared.message_count()
    }

    /// Takes (auto-acks) every message waiting in `queue`, in queue order.
    pub async fn drain(&self, queue: &str) -> Vec<BasicGetMessage> {
        let channel = self
            .broker
            .consumer_channel()
            .await
            .expect("inspection channel");
        let mut taken = Vec::new();
        while let Some(message) = channel
            .basic_get(queue, BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            taken.push(message);
        }
        let _ = channel.close(200, "drained").await;
        taken
    }

    pub async fn publish(&self, message: &OutgoingMessage) {
        self.broker.publish(message).await.expect("publish");
    }

    /// Runs `consumer::run` for `consumer` in the background.
    pub fn spawn_consumer(&self, consumer: &'static str, handler: Arc<Probe>) -> RunningConsumer {
        self.spawn_consumer_with(options(consumer), handler)
    }

    pub fn spawn_consumer_with(
        &self,
        options: ConsumeOptions,
        handler: Arc<Probe>,
    ) -> RunningConsumer {
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(consumer::run(
            Arc::clone(&self.broker),
            handler,
            options,
            cancel.clone(),
        ));
        RunningConsumer { cancel, handle }
    }

    /// How many side-effect rows each message id produced.
    pub async fn side_effects(&self) -> HashMap<String, usize> {
        side_effects(&self.db.pool).await
    }
}

pub fn options(consumer: &'static str) -> ConsumeOptions {
    ConsumeOptions {
        consumer,
        prefetch: 8,
        delivery_limit: DELIVERY_LIMIT,
        give_up_after: Duration::from_secs(30),
    }
}

/// A `consumer::run` task and its stop switch.
pub struct RunningConsumer {
    pub cancel: CancellationToken,
    pub handle: JoinHandle<Result<(), MessagingError>>,
}

impl RunningConsumer {
    /// Cancels and waits (bounded) for `run` to return.
    pub async fn stop(self) -> Result<(), MessagingError> {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("consumer::run returns after cancellation")
            .expect("consumer task did not panic")
    }
}

/// A `sync.requested.v1` event for sync task `task`.
pub fn sync_event(task: i64) -> CloudEvent<SyncRequestedV1> {
    CloudEvent::new(
        "test",
        leadgen_domain::TenantId::new(1),
        SyncRequestedV1 {
            sync_task_id: leadgen_domain::SyncTaskId::new(task),
            platform_id: leadgen_domain::PlatformId::new(1),
            platform_type: PlatformType::Taobao,
            trigger: SyncTrigger::Manual,
            window_start: chrono::DateTime::UNIX_EPOCH,
            window_end: chrono::Utc::now(),
            requested_by: None,
        },
    )
}

/// A message with a fresh id and `body`, for publishing directly.
pub fn message(body: &[u8]) -> OutgoingMessage {
    OutgoingMessage {
        routing_key: ROUTING_KEY.to_owned(),
        message_id: uuid::Uuid::now_v7().to_string(),
        payload: body.to_vec(),
        headers: HashMap::new(),
    }
}

/// What a [`Probe`] does with each message.
pub enum Behaviour {
    Ack,
    Reject,
    AlwaysRetry,
    /// `Retry` on the first call, `Ack` afterwards.
    RetryOnce,
    /// Sleeps `delay`, then in one transaction records the message id in the ledger and, only
    /// when it was new, writes a side-effect row to `t_operation_log`; acks after the commit.
    Ledger {
        pool: DbPool,
        delay: Duration,
    },
    /// [`Behaviour::Ledger`], but waiting for `gate` to open instead of sleeping.
    GatedLedger {
        pool: DbPool,
        gate: watch::Receiver<bool>,
    },
    /// A dependency down until the instant: `Retry` before it, `Ack` after; the handler's
    /// readiness wait returns at that instant.
    DownUntil(tokio::time::Instant),
}

/// A handler that records every call.
pub struct Probe {
    behaviour: Behaviour,
    calls: Mutex<Vec<Incoming>>,
    finished: AtomicUsize,
}

impl Probe {
    pub fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Probe {
            behaviour,
            calls: Mutex::new(Vec::new()),
            finished: AtomicUsize::new(0),
        })
    }

    /// Every message handed to the handler so far (redeliveries included).
    pub fn calls(&self) -> Vec<Incoming> {
        self.calls.lock().expect("calls lock").clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().expect("calls lock").len()
    }

    /// Calls that returned an outcome.
    pub fn finished(&self) -> usize {
        AtomicUsize::load(&self.finished, Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Handler for Probe {
    async fn handle(&self, message: Incoming) -> Outcome {
        let call = {
            let mut calls = self.calls.lock().expect("calls lock");
            calls.push(message.clone());
            calls.len()
        };
        let outcome = match &self.behaviour {
            Behaviour::Ack => Outcome::Ack,
            Behaviour::Reject => Outcome::Reject("poison".into()),
            Behaviour::AlwaysRetry => Outcome::Retry("always failing".into()),
            Behaviour::RetryOnce if call == 1 => Outcome::Retry("transient".into()),
            Behaviour::RetryOnce => Outcome::Ack,
            Behaviour::Ledger { pool, delay } => {
                tokio::time::sleep(*delay).await;
                ledger_outcome(pool, &message).await
            }
            Behaviour::DownUntil(at) if tokio::time::Instant::now() < *at => {
                Outcome::Retry("database down".into())
            }
            Behaviour::DownUntil(_) => Outcome::Ack,
            Behaviour::GatedLedger { pool, gate } => {
                let mut gate = gate.clone();
                if gate.wait_for(|open| *open).await.is_err() {
                    return Outcome::Retry("gate dropped".into());
                }
                ledger_outcome(pool, &message).await
            }
        };
        self.finished.fetch_add(1, Ordering::SeqCst);
        outcome
    }

    async fn wait_until_ready(&self) {
        if let Behaviour::DownUntil(at) = &self.behaviour {
            tokio::time::sleep_until(*at).await;
        }
    }
}

async fn ledger_outcome(pool: &DbPool, message: &Incoming) -> Outcome {
    match message.message_id.as_deref() {
        None => Outcome::Reject("no message id".into()),
        Some(id) => match handle_once(pool, id).await {
            Ok(_) => Outcome::Ack,
            Err(e) => Outcome::Retry(e.to_string()),
        },
    }
}

/// The idempotent-consumer pattern: ledger and side effect in one transaction. `true` when the
/// side effect was written, `false` when the message had been handled before.
pub async fn handle_once(pool: &DbPool, message_id: &str) -> Result<bool, OutboxError> {
    let mut conn = leadgen_db::conn(pool).await?;
    let id = message_id.to_owned();
    conn.transaction::<bool, OutboxError, _>(|conn| {
        async move {
            if !leadgen_outbox::mark_processed(conn, CONSUMER, &id).await? {
                return Ok(false);
            }
            let entry = Entry {
                tenant_id: leadgen_domain::TenantId::new(1),
                // The side effect is any operation-log line; this one names the message.
                service: "outbox-it",
                operator: &Operator::System,
                action: leadgen_domain::audit::AuditAction::LeadIdentify,
                target_type: leadgen_domain::audit::AuditTarget::Lead,
                target_ids: vec![id.clone()],
                result: Ok(()),
            };
            leadgen_db::oplog::record(conn, entry, "").await?;
            Ok(true)
        }
        .scope_boxed()
    })
    .await
}

/// Side-effect rows per message id.
pub async fn side_effects(pool: &DbPool) -> HashMap<String, usize> {
    let mut conn = leadgen_db::conn(pool).await.expect("db connection");
    let rows: Vec<Vec<String>> = t_operation_log::table
        .filter(t_operation_log::service.eq("outbox-it"))
        .select(t_operation_log::target_ids)
        .load(&mut conn)
        .await
        .expect("load side effects");
    let mut counts = HashMap::new();
    for id in rows.into_iter().flatten() {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Polls `condition` every 25 ms until it holds; panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub use leadgen_test_support::rabbitmq::{close_process_connections, connections_named};
