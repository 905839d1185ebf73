//! Opening one AMQP connection, for the [`Broker`](crate::Broker) and for tools that need their
//! own (`leadctl dlq`): `amqp://` in clear, `amqps://` over TLS. The broker's certificate must be
//! signed by one of the Mozilla roots compiled in (the runtime image carries no CA store) or by
//! a CA in `[amqp] ca_file`, and name the URL's host.

use std::path::Path;

use lapin::tcp::OwnedTLSConfig;
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::MessagingError;

/// Opens a connection to `url` with `properties`; an `amqps://` one trusts `ca_file`'s CAs (a
/// PEM file, read now: a renewed file is taken at the next connect) beside the Mozilla roots.
pub async fn open(
    url: &str,
    ca_file: Option<&Path>,
    properties: ConnectionProperties,
) -> Result<Connection, MessagingError> {
    // Parsed here so that a URL that does not parse is never repeated: lapin's error quotes it
    // whole, password and all, and it would reach the log.
    let uri: AMQPUri = url.parse().map_err(|_| {
        MessagingError::Open(
            "[amqp] url is not an AMQP URL (amqp://user:password@host:port/vhost, or amqps://)"
                .to_owned(),
        )
    })?;
    let mut tls = OwnedTLSConfig::default();
    if let (AMQPScheme::AMQPS, Some(path)) = (&uri.scheme, ca_file) {
        tls.cert_chain = Some(read_cas(path.to_owned()).await?);
    }
    Ok(Connection::connect_uri_with_config(uri, properties, tls).await?)
}

/// The PEM file of CAs at `path` (a mounted Secret or ConfigMap), refused when it holds no
/// certificate (a key put there by mistake would otherwise be ignored, and the broker's
/// certificate refused as from an unknown issuer).
async fn read_cas(path: std::path::PathBuf) -> Result<String, MessagingError> {
    let shown = path.display().to_string();
    let cannot = |e: &dyn std::fmt::Display| {
        MessagingError::Open(format!("cannot read [amqp] ca_file {shown}: {e}"))
    };
    let pem = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
        .await
        .map_err(|e| cannot(&e))?
        .map_err(|e| cannot(&e))?;
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter(Result::is_ok)
        .count();
    if certificates == 0 {
        return Err(MessagingError::Open(format!(
            "[amqp] ca_file {shown} holds no PEM certificate"
        )));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_that_does_not_parse_is_refused_without_repeating_it() {
        for url in [
            "amqp:leadgen:S3cret@rabbitmq:5672/%2f",
            "amqx://leadgen:S3cret@rabbitmq:5672/%2f",
        ] {
            let Err(refused) = open(url, None, ConnectionProperties::default()).await else {
                panic!("{url} is no AMQP URL");
            };
            let text = refused.to_string();
            assert!(text.contains("[amqp] url"), "{text}");
            assert!(!text.contains("S3cret"), "{text}");
        }
    }
}
