//! An open that timed out is waited on again rather than doubled by a second connection, and
//! replaced only once it is too old. A local listener that accepts and stays silent stands in
//! for the broker. The published contract (`proto-events/asyncapi.yaml`) names the content type
//! the broker sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A listener that accepts and holds every connection, saying nothing; its address and the
/// count of connections accepted.
async fn silent_peer() -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    (port, accepted, held)
}

async fn accepted_after_a_moment(accepted: &AtomicUsize) -> usize {
    tokio::time::sleep(Duration::from_millis(300)).await;
    accepted.load(Ordering::SeqCst)
}

#[tokio::test]
async fn an_open_that_timed_out_is_waited_on_again_and_replaced_only_when_old() {
    let (port, accepted, held) = silent_peer().await;
    let broker = Broker {
        url: SecretString::from(format!("amqp://guest:guest@127.0.0.1:{port}/%2f")),
        ca_file: None,
        topology: Topology {
            prefix: "open-once".into(),
            delivery_limit: 5,
        },
        queues: Vec::new(),
        confirm_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_millis(200),
        publishing: Link::new("open-once".into()),
        consuming: Link::new("open-once consume".into()),
        consuming_wanted: std::sync::atomic::AtomicBool::new(false),
    };
    for _ in 0..3 {
        let opened = broker.open(&broker.publishing).await;
        assert!(
            matches!(opened, Err(MessagingError::ConnectTimeout(_))),
            "{:?}",
            opened.err()
        );
    }
    assert_eq!(
        accepted_after_a_moment(&accepted).await,
        1,
        "one connection"
    );
    // Six timeouts old: given up, and one new open.
    tokio::time::sleep(Duration::from_millis(200) * OPEN_GIVEN_UP_AFTER).await;
    assert!(broker.open(&broker.publishing).await.is_err());
    assert_eq!(accepted_after_a_moment(&accepted).await, 2);
    held.abort();
}

/// The published contract states the content type as the broker sends it, parameter included.
#[test]
fn the_published_contract_names_the_content_type_sent() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto-events/asyncapi.yaml");
    let doc = std::fs::read_to_string(&path).expect("asyncapi.yaml");
    assert!(
        doc.contains(&format!("defaultContentType: {CLOUDEVENTS_JSON}\n")),
        "{}",
        path.display()
    );
    for line in doc
        .lines()
        .filter(|l| l.trim_start().starts_with("contentType:"))
    {
        assert_eq!(line.trim(), format!("contentType: {CLOUDEVENTS_JSON}"));
    }
}
