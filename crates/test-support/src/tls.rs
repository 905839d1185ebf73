//! TLS in front of the local PostgreSQL and RabbitMQ, with a certificate authority made per test:
//! the servers here speak plaintext (or TLS with a certificate nobody can trust), so a test of our
//! clients' encryption puts this proxy between them. It ends TLS with a certificate of the test's
//! CA and passes the plaintext on, byte for byte.
//!
//! PostgreSQL asks for TLS inside its protocol (an `SSLRequest` answered `S`, then the handshake);
//! AMQPS is TLS from the first byte. A client that sends anything else is disconnected, as a
//! server that only accepts TLS does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority of one test.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { cert, key }
    }

    /// Writes the CA's certificate (PEM) into `dir`; its path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("ca-{}.pem", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, self.cert.pem()).expect("write CA certificate");
        path
    }

    /// A server configuration presenting a certificate of this CA for `names` (host names or IP
    /// addresses).
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().expect("server key");
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("server params");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("server certificate");
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server configuration"),
        )
    }
}

/// What the proxy speaks before TLS.
#[derive(Clone, Copy)]
pub enum Protocol {
    /// PostgreSQL's `SSLRequest`, then TLS.
    Postgres,
    /// TLS from the first byte (AMQPS).
    Tls,
}

/// A TLS-ending proxy to `upstream`, listening on 127.0.0.1.
pub struct TlsProxy {
    pub port: u16,
    handshakes: Arc<AtomicUsize>,
}

impl TlsProxy {
    pub async fn start(
        protocol: Protocol,
        upstream: SocketAddr,
        config: Arc<ServerConfig>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind TLS proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&handshakes);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), Arc::clone(&counted));
                tokio::spawn(async move {
                    let _ = relay(protocol, client, upstream, acceptor, counted).await;
                });
            }
        });
        TlsProxy { port, handshakes }
    }

    /// How many TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

async fn relay(
    protocol: Protocol,
    mut client: TcpStream,
    upstream: SocketAddr,
    acceptor: TlsAcceptor,
    handshakes: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    if let Protocol::Postgres = protocol {
        let mut request = [0u8; 8];
        client.read_exact(&mut request).await?;
        if request != SSL_REQUEST {
            return Ok(());
        }
        client.write_all(b"S").await?;
    }
    let mut tls = acceptor.accept(client).await?;
    handshakes.fetch_add(1, Ordering::SeqCst);
    let mut server = TcpStream::connect(upstream).await?;
    tokio::io::copy_bidirectional(&mut tls, &mut server).await?;
    Ok(())
}
