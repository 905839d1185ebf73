//! RabbitMQ for every service, written once.
//!
//! - [`topology`] — one durable topic exchange for the module's events, a dead-letter exchange,
//!   and per consuming service one durable quorum queue with a delivery limit and its `.dlq`.
//! - [`Broker`]: a publishing connection per process, and in a process that consumes one that
//!   only receives and settles (never blocked by a resource alarm), each with a supervised
//!   reconnect that re-declares the topology; publishing on a confirm-mode channel (a `Nack`, a
//!   return, a blocked connection or a timeout is an error).
//! - [`connection`] — one AMQP connection, `amqps://` over TLS.
//! - [`consumer`] — manual acks with bounded prefetch; the handler's [`Outcome`] is turned into
//!   ack, delayed requeue or dead-lettering in one place ([`consumer::settle`]); a message
//!   dead-lettered carries why ([`dead_letter`]); a handler whose work outlasts the broker's
//!   consumer timeout acknowledges early ([`early_ack`]). Handlers run detached from the
//!   channel that delivered their message: a lost channel is replaced at once while they
//!   finish, and stopping waits for them.
//! - [`depth`] — what waits in the process's queues, their dead-letter queues and the parked
//!   unrouted events, as gauges.
//!
//! Business code does not publish directly: it writes to the outbox in its transaction and the
//! relay (`leadgen-outbox`) publishes through [`Broker::publish`].

mod broker;
pub mod connection;
pub mod consumer;
pub mod dead_letter;
pub mod depth;
pub mod early_ack;
pub mod topology;

pub use broker::{Broker, MessagingError, OutgoingMessage};
pub use consumer::{Handler, Incoming, Outcome};
pub use early_ack::EarlyAck;
pub use topology::{QueueSpec, Topology};
