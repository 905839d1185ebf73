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
//!
//! **Submodules.** This file is the command surface: the consumers, the errors, the commands and
//! what they report.
//! - `session`: the broker session: connection, passive declares, the cursor and the replay pass.
//! - `letter`: reading a dead letter (the consumer's cause, `x-death`, routing key) and the
//!   properties a replay uses.
//! - `render`: the text the commands print.

mod letter;
mod render;
mod session;

use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use leadgen_events::routing;
use leadgen_settings::{AmqpSettings, Sources};
use serde::Deserialize;
use validator::Validate as _;

pub use letter::{DeadLetter, Death, deaths, original_routing_key, replay_properties};
pub use render::{render_list, render_replay, render_show};
use session::Session;

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

#[derive(Deserialize, validator::Validate)]
struct AmqpOnly {
    #[validate(nested)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
