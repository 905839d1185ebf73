//! Opening a connection to a broker address that accepts TCP but never answers (a half-dead
//! node, a proxy with no backend) fails after `[amqp] connect_timeout_ms` instead of hanging:
//! every publisher and consumer of the process waits behind that open. A local listener that
//! accepts and stays silent stands in for the broker.

use std::time::Duration;

use leadgen_messaging::{Broker, MessagingError};
use secrecy::SecretString;

#[tokio::test]
async fn a_broker_that_never_answers_fails_the_connect_after_its_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("address").port();
    // Accepts every connection and holds it open, saying nothing.
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let settings = leadgen_settings::AmqpSettings {
        url: SecretString::from(format!("amqp://guest:guest@127.0.0.1:{port}/%2f")),
        prefix: "connect-timeout".into(),
        prefetch: 1,
        delivery_limit: 5,
        confirm_timeout_ms: 1_000,
        connect_timeout_ms: 300,
        give_up_secs: 300,
        ca_file: None,
    };
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        Broker::connect(&settings, Vec::new()),
    )
    .await
    .expect("the connect gives up on its own");
    let Err(error) = result else {
        panic!("a silent peer is no broker");
    };
    assert!(
        matches!(error, MessagingError::ConnectTimeout(t) if t == Duration::from_millis(300)),
        "{error}"
    );
    held.abort();
}
