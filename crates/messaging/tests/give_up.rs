//! A consumer that gives up on the broker stops what shares its token: a handler still running
//! (a sync walking its pages, told to stop by the process's token) is told to end, and `run`
//! returns its error once the handler has. Before, `run` waited for its handlers before anyone
//! cancelled the token, so the process stayed half alive, consuming nothing, until its longest
//! sync ended on its own. The broker is made unreachable for this test alone: it connects as a
//! user of its own, which is deleted (its connection force-closed), so every reconnection is
//! refused.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, Incoming, Outcome, OutgoingMessage, QueueSpec};
use leadgen_test_support::TestBroker;
use leadgen_test_support::rabbitmq::{close_process_connections, rabbitmqctl};
use secrecy::SecretString;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NAME: &str = "give-up";
const ROUTING_KEY: &str = "probe.give-up.v1";

/// Acknowledges early, says it started, and runs until `stop` (the process's token) fires.
struct RunsUntilStopped {
    started: mpsc::UnboundedSender<()>,
    stop: CancellationToken,
    ended: AtomicBool,
}

#[async_trait::async_trait]
impl Handler for RunsUntilStopped {
    async fn handle(&self, message: Incoming) -> Outcome {
        message.early_ack.ack().await;
        let _ = self.started.send(());
        self.stop.cancelled().await;
        self.ended.store(true, Ordering::SeqCst);
        Outcome::Ack
    }
}

/// A broker user of the test's own, with every permission on the default virtual host.
async fn add_user(user: &str, password: &str) {
    rabbitmqctl(vec!["add_user".into(), user.into(), password.into()]).await;
    rabbitmqctl(
        ["set_permissions", "-p", "/", user, ".*", ".*", ".*"]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
}

/// `url` with `user:password` as its credentials.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an amqp URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_gives_up_stops_its_running_handlers_and_returns() {
    let spec = QueueSpec {
        consumer: NAME,
        routing_keys: vec![ROUTING_KEY],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let (user, password) = (test.prefix.clone(), "give-up-password");
    add_user(&user, password).await;
    let mut settings = test.settings();
    settings.url = SecretString::from(as_user(&leadgen_test_support::amqp_url(), &user, password));
    let broker = Broker::connect(&settings, vec![spec])
        .await
        .expect("connect");

    let (started, mut running) = mpsc::unbounded_channel();
    let token = CancellationToken::new();
    let handler = Arc::new(RunsUntilStopped {
        started,
        stop: token.clone(),
        ended: AtomicBool::new(false),
    });
    let consuming = tokio::spawn(consumer::run(
        Arc::clone(&broker),
        Arc::clone(&handler) as Arc<dyn Handler>,
        ConsumeOptions {
            consumer: NAME,
            prefetch: 1,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(2),
        },
        token.clone(),
    ));
    let message = OutgoingMessage {
        routing_key: ROUTING_KEY.into(),
        message_id: "a".into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    };
    broker.publish(&message).await.expect("publish");
    tokio::time::timeout(Duration::from_secs(10), running.recv())
        .await
        .expect("the handler started within 10 s")
        .expect("started");

    // The broker refuses this test from now on.
    rabbitmqctl(vec!["delete_user".into(), user.clone()]).await;
    close_process_connections(&test.prefix).await;

    let result = tokio::time::timeout(Duration::from_secs(30), consuming)
        .await
        .expect("consumer::run returned within 30 s of giving up")
        .expect("join");
    assert!(result.is_err(), "giving up is an error: {result:?}");
    assert!(token.is_cancelled(), "the shared token was cancelled");
    assert!(
        handler.ended.load(Ordering::SeqCst),
        "the running handler was told to stop and ended"
    );
    broker.close().await;
}
