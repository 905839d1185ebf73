//! How a connection to PostgreSQL is encrypted: the database URL's `sslmode` and `sslrootcert`,
//! read as libpq reads them, so a URL means here what it means to `psql`.
//!
//! | `sslmode`          | encrypted                      | server's certificate checked          |
//! |--------------------|--------------------------------|---------------------------------------|
//! | `disable`          | never                          | —                                     |
//! | `allow`, `prefer`  | when the server offers it      | no (see below)                        |
//! | `require`          | always, else no connection     | no; with `sslrootcert`, as `verify-ca`|
//! | `verify-ca`        | always                         | signed by a trusted CA                |
//! | `verify-full`      | always                         | trusted CA, and names the URL's host  |
//!
//! Without `sslmode` a URL means `prefer`, libpq's default: TLS when the server offers it, and
//! plaintext when the server refuses it or the TLS attempt fails, as libpq does. The trusted CAs
//! are the PEM file `sslrootcert` names. `sslrootcert=system` trusts the public (Mozilla) roots
//! compiled in (the runtime image carries no CA store), and as in libpq it means `verify-full`
//! and refuses a weaker mode: a public root signs certificates for anyone's domain, so only the
//! host name check makes it safe. For the same reason `verify-ca` needs a CA file of its own;
//! `verify-full` without one trusts the public roots. `prefer` and `require` without a root
//! certificate encrypt against a passive listener, not against a host that impersonates the
//! database: a production URL says `verify-full` (k8s/README.md). `allow` is served as `prefer`
//! (the driver cannot try plaintext first); it encrypts wherever `allow` would and wherever else
//! it can.
//!
//! TLS is rustls with the ring provider, as every other TLS client in the module.

use std::sync::Arc;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Opens one connection to `url`, encrypted as its `sslmode` asks.
pub async fn connect(url: &str) -> ConnectionResult<AsyncPgConnection> {
    let Target {
        mut config,
        tls,
        mode,
    } = Target::parse(url)?;
    let connected = match config.connect(tls.clone()).await {
        Ok(connected) => connected,
        // libpq's `prefer`: when the TLS attempt fails (a handshake this client refuses, a
        // server that accepts only plaintext connections), a plaintext one is tried. Not when
        // the server could not be reached at all: a second attempt would only wait as long.
        Err(encrypted) if mode == Mode::Prefer && !unreachable(&encrypted) => {
            config.ssl_mode(SslMode::Disable);
            config.connect(tls).await.map_err(|plain| {
                ConnectionError::BadConnection(format!(
                    "{} (over TLS: {})",
                    with_causes(&plain),
                    with_causes(&encrypted)
                ))
            })?
        }
        Err(e) => return Err(ConnectionError::BadConnection(with_causes(&e))),
    };
    let (client, connection) = connected;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// Whether `error` is tokio-postgres's failure to reach the server (its `Kind::Connect`, which
/// it does not expose but by its words), before any TLS was negotiated.
fn unreachable(error: &tokio_postgres::Error) -> bool {
    error.to_string().starts_with("error connecting to server")
}

/// `error` and what caused it: tokio-postgres says "error performing TLS handshake" and keeps
/// why (an untrusted issuer, another host's name) in its source.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Where to connect and how to encrypt it.
struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    mode: Mode,
}

/// The `sslmode` values, libpq's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Target {
    fn parse(url: &str) -> ConnectionResult<Self> {
        let (rest, mode, root_cert) = take_tls_params(url)?;
        let mode = mode_of(mode.as_deref(), root_cert.as_deref())?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(e.to_string()))?;
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        });
        let tls = MakeRustlsConnect::new(client_config(mode, root_cert.as_deref())?);
        Ok(Self { config, tls, mode })
    }
}

/// The mode `sslmode` and `sslrootcert` ask for, as libpq reads them.
fn mode_of(mode: Option<&str>, root_cert: Option<&str>) -> ConnectionResult<Mode> {
    let system = root_cert == Some("system");
    let mode = match mode {
        None if system => Mode::VerifyFull,
        None | Some("prefer" | "allow") => Mode::Prefer,
        Some("disable") => Mode::Disable,
        Some("require") if root_cert.is_some() => Mode::VerifyCa,
        Some("require") => Mode::Require,
        Some("verify-ca") => Mode::VerifyCa,
        Some("verify-full") => Mode::VerifyFull,
        Some(other) => {
            return Err(invalid(format!(
                "sslmode `{other}` is none of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if system && mode != Mode::VerifyFull {
        return Err(invalid(
            "sslrootcert=system trusts the public roots, which sign certificates for anyone's \
             domain: it needs sslmode=verify-full (or no sslmode)"
                .to_owned(),
        ));
    }
    if mode == Mode::VerifyCa && root_cert.is_none() {
        return Err(invalid(
            "sslmode=verify-ca needs sslrootcert, a file of the CAs to trust (the public roots \
             would take any certificate they signed, for any host): or use verify-full"
                .to_owned(),
        ));
    }
    Ok(mode)
}

/// Splits libpq's TLS parameters off `url` (tokio-postgres knows `sslmode` only up to `require`,
/// and no `sslrootcert`): the rest of the URL, `sslmode` and `sslrootcert`. Both URL forms:
/// `postgres://…?sslmode=verify-full&sslrootcert=/ca.pem` and `host=… sslmode=verify-full`.
fn take_tls_params(url: &str) -> ConnectionResult<(String, Option<String>, Option<String>)> {
    let (mut mode, mut root_cert) = (None, None);
    let mut take = |key: &str, value: String| match key {
        "sslmode" => mode = Some(value),
        "sslrootcert" => root_cert = Some(value),
        _ => {}
    };
    let is_tls = |key: &str| key == "sslmode" || key == "sslrootcert";
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((key, value)) if is_tls(key) => {
                    let value = urlencoding::decode(value).map_err(|_| {
                        invalid(format!("{key} is not valid percent-encoded UTF-8"))
                    })?;
                    take(key, value.into_owned());
                }
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            match word.split_once('=') {
                Some((key, value)) if is_tls(key) => take(key, value.to_owned()),
                _ => kept.push(word),
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root_cert))
}

fn invalid(why: String) -> ConnectionError {
    ConnectionError::InvalidConnectionUrl(why)
}

/// The rustls configuration `mode` asks for, trusting `root_cert`'s CAs (a PEM file) or, without
/// one, the Mozilla roots.
fn client_config(mode: Mode, root_cert: Option<&str>) -> ConnectionResult<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        Mode::Disable | Mode::Prefer | Mode::Require => Arc::new(AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }),
        Mode::VerifyCa | Mode::VerifyFull => {
            let checked = WebPkiServerVerifier::builder_with_provider(
                Arc::new(trusted_roots(root_cert)?),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| invalid(format!("TLS: {e}")))?;
            if mode == Mode::VerifyFull {
                checked
            } else {
                Arc::new(AnyHostName(checked))
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The CAs in the PEM file `path`, or the Mozilla roots without one (or for `system`).
fn trusted_roots(path: Option<&str>) -> ConnectionResult<RootCertStore> {
    let Some(path) = path.filter(|p| *p != "system") else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| invalid(format!("sslrootcert {path}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(invalid(format!(
            "sslrootcert {path} holds no CA certificate"
        )));
    }
    Ok(roots)
}

/// `prefer` and `require`: any certificate, as libpq takes it in these modes. The handshake's
/// signatures are still checked, so the session's keys belong to the certificate shown.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked as `verify-full` checks it; only a certificate that names
/// another host is taken.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>, Option<String>) {
        take_tls_params(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn the_tls_parameters_are_taken_off_a_url_and_the_rest_is_kept_in_order() {
        assert_eq!(
            split(
                "postgres://u@db:5432/x?connect_timeout=5&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&keepalives_idle=30"
            ),
            (
                "postgres://u@db:5432/x?connect_timeout=5&keepalives_idle=30".to_owned(),
                Some("verify-full".to_owned()),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgresql://u@db/x?sslmode=require"),
            (
                "postgresql://u@db/x".to_owned(),
                Some("require".to_owned()),
                None
            )
        );
        assert_eq!(
            split("postgres://u@db/x"),
            ("postgres://u@db/x".to_owned(), None, None)
        );
    }

    #[test]
    fn the_tls_parameters_are_taken_off_a_key_value_string() {
        assert_eq!(
            split("host=db user=u sslmode=verify-ca sslrootcert=/ca.pem dbname=x"),
            (
                "host=db user=u dbname=x".to_owned(),
                Some("verify-ca".to_owned()),
                Some("/ca.pem".to_owned())
            )
        );
    }

    #[test]
    fn the_modes_read_as_libpq_reads_them() {
        let mode = |url: &str| {
            let (_, mode, root) = split(url);
            (mode, root)
        };
        assert_eq!(mode("postgres://u@db/x"), (None, None));
        let read = |url: &str| Target::parse(url).map(|t| t.mode);
        for (url, expected) in [
            ("postgres://u@db/x", Mode::Prefer),
            ("postgres://u@db/x?sslmode=disable", Mode::Disable),
            ("postgres://u@db/x?sslmode=allow", Mode::Prefer),
            ("postgres://u@db/x?sslmode=prefer", Mode::Prefer),
            ("postgres://u@db/x?sslmode=require", Mode::Require),
            ("postgres://u@db/x?sslmode=verify-full", Mode::VerifyFull),
            // libpq 16: the public roots mean verify-full.
            ("postgres://u@db/x?sslrootcert=system", Mode::VerifyFull),
            (
                "postgres://u@db/x?sslmode=verify-full&sslrootcert=system",
                Mode::VerifyFull,
            ),
        ] {
            assert_eq!(read(url).ok(), Some(expected), "{url}");
        }
        // A check the public roots cannot make safe is refused, never weakened.
        for url in [
            "postgres://u@db/x?sslmode=verify-ca",
            "postgres://u@db/x?sslmode=verify-ca&sslrootcert=system",
            "postgres://u@db/x?sslmode=require&sslrootcert=system",
            "postgres://u@db/x?sslmode=prefer&sslrootcert=system",
        ] {
            assert!(
                matches!(read(url), Err(ConnectionError::InvalidConnectionUrl(_))),
                "{url}"
            );
        }
        let Err(ConnectionError::InvalidConnectionUrl(why)) =
            Target::parse("postgres://u:secret@db/x?sslmode=verify_full")
        else {
            panic!("an unknown sslmode is refused");
        };
        assert!(
            why.contains("verify_full") && !why.contains("secret"),
            "{why}"
        );
    }

    /// A server that cannot be reached is not tried a second time in plaintext (tokio-postgres
    /// names that failure by its words only: this pins them).
    #[tokio::test]
    async fn a_server_nothing_listens_for_reads_as_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let config: tokio_postgres::Config = format!("postgres://u@127.0.0.1:{port}/x")
            .parse()
            .expect("URL");
        let Err(refused) = config.connect(tokio_postgres::NoTls).await else {
            panic!("nothing listens on {port}");
        };
        assert!(unreachable(&refused), "{refused}");
    }

    #[test]
    fn a_root_certificate_file_that_cannot_be_read_is_refused_with_its_path() {
        let Err(ConnectionError::InvalidConnectionUrl(why)) =
            Target::parse("postgres://u@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        else {
            panic!("a missing sslrootcert is refused");
        };
        assert!(why.contains("/nonexistent/ca.pem"), "{why}");
    }
}
