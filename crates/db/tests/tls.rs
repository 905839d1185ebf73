//! Connections are encrypted and checked as the URL's `sslmode` and `sslrootcert` ask: through a
//! TLS proxy with a certificate authority of the test in front of the real PostgreSQL, and against
//! the server itself.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use leadgen_test_support::TestDb;
use leadgen_test_support::tls::{Protocol, TestCa, TlsProxy};

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A test database, reachable in clear as `db.url` and through TLS on `proxy.port`, with a
/// certificate of `ca` for `names`.
struct Proxied {
    db: TestDb,
    proxy: TlsProxy,
    ca_file: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Proxied {
    async fn new(names: &[&str]) -> Self {
        let db = TestDb::new().await;
        let config: tokio_postgres::Config = db.url.parse().expect("test URL");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("the test database is reached over TCP, not {other:?}"),
        };
        let upstream: SocketAddr = tokio::net::lookup_host((host.as_str(), config.get_ports()[0]))
            .await
            .expect("resolve the test PostgreSQL")
            .next()
            .expect("an address");
        let ca = TestCa::new("leadgen test CA");
        let dir = TempDir(std::env::temp_dir().join(format!("leadgen-tls-{}", db.name)));
        std::fs::create_dir_all(&dir.0).expect("temp dir");
        let ca_file = ca.write_pem(&dir.0);
        let proxy = TlsProxy::start(Protocol::Postgres, upstream, ca.server_config(names)).await;
        Proxied {
            db,
            proxy,
            ca_file,
            _dir: dir,
        }
    }

    /// The test database through the proxy at `host`, with `params` (`sslmode=…`).
    fn url(&self, host: &str, params: &str) -> String {
        let config: tokio_postgres::Config = self.db.url.parse().expect("test URL");
        let user = config.get_user().expect("a user");
        let params = params.replace("{ca}", &self.ca_file.display().to_string());
        format!(
            "postgres://{user}@{host}:{}/{}?{params}",
            self.proxy.port, self.db.name
        )
    }
}

async fn current_database(url: &str) -> Result<String, String> {
    let mut conn = leadgen_db::connect(url).await.map_err(|e| e.to_string())?;
    diesel::sql_query("SELECT current_database() AS name")
        .get_result::<Name>(&mut conn)
        .await
        .map(|n| n.name)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn verify_full_connects_to_a_certificate_of_the_trusted_ca_for_the_host() {
    let p = Proxied::new(&["localhost"]).await;
    let url = p.url("localhost", "sslmode=verify-full&sslrootcert={ca}");
    assert_eq!(current_database(&url).await, Ok(p.db.name.clone()));
    assert_eq!(p.proxy.handshakes(), 1);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_host_and_verify_ca_takes_it() {
    let p = Proxied::new(&["db.leadgen.internal"]).await;
    let refused = current_database(&p.url("127.0.0.1", "sslmode=verify-full&sslrootcert={ca}"))
        .await
        .expect_err("a certificate for another host is refused");
    assert!(refused.contains("not valid for name"), "{refused}");
    assert_eq!(
        current_database(&p.url("127.0.0.1", "sslmode=verify-ca&sslrootcert={ca}")).await,
        Ok(p.db.name.clone())
    );
    assert_eq!(
        current_database(&p.url("127.0.0.1", "sslmode=require&sslrootcert={ca}")).await,
        Ok(p.db.name.clone()),
        "require with a root certificate checks as verify-ca does"
    );
}

#[tokio::test]
async fn a_certificate_of_an_untrusted_ca_is_refused_unless_nothing_is_checked() {
    let p = Proxied::new(&["localhost"]).await;
    let dir = p.ca_file.parent().expect("dir").to_owned();
    let other = TestCa::new("another CA")
        .write_pem(&dir)
        .display()
        .to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = p.url("localhost", &format!("sslmode={mode}&sslrootcert={other}"));
        let refused = current_database(&url)
            .await
            .expect_err("an untrusted CA is refused");
        assert!(refused.contains("UnknownIssuer"), "{mode}: {refused}");
    }
    assert!(
        current_database(&p.url("localhost", "sslmode=verify-full"))
            .await
            .is_err(),
        "the test CA is none of the Mozilla roots"
    );
    assert_eq!(
        current_database(&p.url("localhost", "sslmode=require")).await,
        Ok(p.db.name.clone()),
        "require without a root certificate encrypts without checking, as libpq does"
    );
    assert!(
        current_database(&p.url("localhost", "sslmode=disable"))
            .await
            .is_err(),
        "disable sends no SSLRequest, and the proxy only speaks TLS"
    );
}

#[tokio::test]
async fn the_pool_and_the_migrations_connect_through_tls() {
    let p = Proxied::new(&["localhost"]).await;
    let url = p.url("localhost", "sslmode=verify-full&sslrootcert={ca}");
    let applied = leadgen_db::run_migrations(&url).await.expect("migrations");
    assert!(
        applied.is_empty(),
        "the test database was migrated: {applied:?}"
    );
    let pool = leadgen_db::build_pool(&leadgen_test_support::database_settings(&url), "tls")
        .expect("pool");
    let mut conn = leadgen_db::conn(&pool).await.expect("conn");
    let name = diesel::sql_query("SELECT current_database() AS name")
        .get_result::<Name>(&mut conn)
        .await
        .expect("query");
    assert_eq!(name.name, p.db.name);
    assert_eq!(p.proxy.handshakes(), 2);
}

/// Without `sslmode`, a URL means libpq's `prefer`: encrypted whenever the server offers TLS.
#[tokio::test]
async fn without_sslmode_a_connection_is_encrypted_when_the_server_offers_tls() {
    #[derive(diesel::QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = Bool)]
        offered: bool,
        #[diesel(sql_type = Bool)]
        used: bool,
    }
    let db = TestDb::new().await;
    let ssl = async |url: &str| {
        let mut conn = leadgen_db::connect(url).await.expect("connect");
        diesel::sql_query(
            "SELECT current_setting('ssl') = 'on' AS offered, \
             coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS used",
        )
        .get_result::<Ssl>(&mut conn)
        .await
        .expect("query")
    };
    assert!(!db.url.contains("sslmode"), "{}", db.url);
    let default = ssl(&db.url).await;
    assert!(
        default.offered,
        "the test PostgreSQL offers TLS (Debian's package enables it with its snakeoil certificate)"
    );
    assert!(default.used, "prefer encrypts what the server offers to");
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let disabled = ssl(&format!("{}{separator}sslmode=disable", db.url)).await;
    assert!(!disabled.used);
}

/// libpq's `prefer` falls back to plaintext when the TLS attempt fails, here a server that
/// agrees to TLS and then hangs up (a pooler or proxy that cannot serve it); `require` does not.
#[tokio::test]
async fn prefer_connects_in_plaintext_when_the_tls_attempt_fails() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    let db = TestDb::new().await;
    let config: tokio_postgres::Config = db.url.parse().expect("test URL");
    let upstream = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => (host.clone(), config.get_ports()[0]),
        other => panic!("the test database is reached over TCP, not {other:?}"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = attempts.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).await.is_err() {
                    return;
                }
                // SSLRequest: length 8, code 80877103. Say yes, then hang up.
                if first == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                    let _ = client.write_all(b"S").await;
                    return;
                }
                let mut server = TcpStream::connect(upstream).await.expect("PostgreSQL");
                server.write_all(&first).await.expect("forward");
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    let user = config.get_user().expect("a user");
    let url = |mode: &str| format!("postgres://{user}@127.0.0.1:{port}/{}{mode}", db.name);

    assert_eq!(current_database(&url("")).await, Ok(db.name.clone()));
    assert_eq!(
        std::sync::atomic::AtomicUsize::load(&attempts, std::sync::atomic::Ordering::SeqCst),
        2,
        "one TLS attempt, then one in plaintext"
    );
    let refused = current_database(&url("?sslmode=require"))
        .await
        .expect_err("require never falls back");
    assert!(refused.contains("TLS"), "{refused}");
    assert_eq!(
        std::sync::atomic::AtomicUsize::load(&attempts, std::sync::atomic::Ordering::SeqCst),
        3
    );
    server.abort();
}
