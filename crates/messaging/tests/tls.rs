//! An `amqps://` broker is reached over TLS and its certificate is checked: through a TLS proxy
//! with a certificate authority of the test in front of the real RabbitMQ, trusted through
//! `[amqp] ca_file`.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use leadgen_messaging::{Broker, OutgoingMessage, QueueSpec};
use leadgen_settings::AmqpSettings;
use leadgen_test_support::TestBroker;
use leadgen_test_support::tls::{Protocol, TestCa, TlsProxy};
use secrecy::SecretString;

const ROUTING_KEY: &str = "probe.tls.v1";

struct Fixture {
    test: TestBroker,
    spec: QueueSpec,
    proxy: TlsProxy,
    dir: PathBuf,
    ca_file: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    async fn new(names: &[&str]) -> Self {
        let spec = QueueSpec {
            consumer: "tls",
            routing_keys: vec![ROUTING_KEY],
        };
        let test = TestBroker::new(vec![spec.clone()]);
        let uri: lapin::uri::AMQPUri = leadgen_test_support::amqp_url().parse().expect("AMQP URL");
        let upstream: SocketAddr =
            tokio::net::lookup_host((uri.authority.host.as_str(), uri.authority.port))
                .await
                .expect("resolve the test broker")
                .next()
                .expect("an address");
        let ca = TestCa::new("leadgen test CA");
        let dir = std::env::temp_dir().join(format!("leadgen-tls-{}", test.prefix));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca_file = ca.write_pem(&dir);
        let proxy = TlsProxy::start(Protocol::Tls, upstream, ca.server_config(names)).await;
        Fixture {
            test,
            spec,
            proxy,
            dir,
            ca_file,
        }
    }

    /// The test's settings, through the proxy at `host`, trusting `ca_file`.
    fn settings(&self, host: &str, ca_file: Option<PathBuf>) -> AmqpSettings {
        AmqpSettings {
            url: SecretString::from(format!(
                "amqps://guest:guest@{host}:{}/%2f",
                self.proxy.port
            )),
            ca_file,
            ..self.test.settings()
        }
    }
}

#[tokio::test]
async fn an_amqps_broker_with_a_certificate_of_the_trusted_ca_carries_the_events() {
    let f = Fixture::new(&["localhost"]).await;
    let broker = Broker::connect(
        &f.settings("localhost", Some(f.ca_file.clone())),
        vec![f.spec.clone()],
    )
    .await
    .expect("connect over TLS");
    let message = OutgoingMessage {
        routing_key: ROUTING_KEY.into(),
        message_id: "over-tls".into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    };
    broker.publish(&message).await.expect("publish, confirmed");
    let depths = broker.queue_depths().await.expect("depths");
    let queued: u32 = depths
        .iter()
        .filter(|d| d.queue == broker.topology().queue("tls"))
        .map(|d| d.messages)
        .sum();
    assert_eq!(queued, 1, "{depths:?}");
    assert!(f.proxy.handshakes() >= 1);
    broker.close().await;
}

#[tokio::test]
async fn an_untrusted_certificate_or_another_hosts_is_refused() {
    let f = Fixture::new(&["localhost"]).await;
    let refused = |settings: AmqpSettings| async move {
        match Broker::connect(&settings, Vec::new()).await {
            Ok(_) => panic!("connected to {:?}", settings.url),
            Err(e) => e.to_string(),
        }
    };
    let untrusted = refused(f.settings("localhost", None)).await;
    assert!(untrusted.contains("UnknownIssuer"), "{untrusted}");
    let elsewhere = refused(f.settings("127.0.0.1", Some(f.ca_file.clone()))).await;
    assert!(elsewhere.contains("not valid for name"), "{elsewhere}");
    let missing = f.dir.join("missing.pem");
    let unreadable = refused(f.settings("localhost", Some(missing.clone()))).await;
    assert!(
        unreadable.contains(&missing.display().to_string()),
        "{unreadable}"
    );
    // A file that holds no certificate (a key put there by mistake) is named, not ignored.
    let not_a_ca = f.dir.join("not-a-ca.pem");
    std::fs::write(
        &not_a_ca,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let empty = refused(f.settings("localhost", Some(not_a_ca))).await;
    assert!(empty.contains("holds no PEM certificate"), "{empty}");
    assert_eq!(f.proxy.handshakes(), 0);
}
