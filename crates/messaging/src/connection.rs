//! Opening one AMQP connection, for the [`Broker`](crate::Broker) and for tools that need their
//! own (`leadctl dlq`): `amqp://` in clear, `amqps://` over TLS. The broker's certificate must be
//! signed by one of the Mozilla roots compiled in (the runtime image carries no CA store) or by
//! a CA in `[amqp] ca_file`, and name the URL's host.

use std::path::Path;

use lapin::tcp::OwnedTLSConfig;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};

use crate::MessagingError;

/// Opens a connection to `url` with `properties`, trusting `ca_file`'s CAs (a PEM file, read
/// now: a renewed file is taken at the next connect) beside the Mozilla roots.
pub async fn open(
    url: &str,
    ca_file: Option<&Path>,
    properties: ConnectionProperties,
) -> Result<Connection, MessagingError> {
    let mut tls = OwnedTLSConfig::default();
    if let Some(path) = ca_file {
        // A small local file (a mounted Secret or ConfigMap), read once per connect.
        let pem = std::fs::read_to_string(path).map_err(|e| {
            MessagingError::Open(format!(
                "cannot read [amqp] ca_file {}: {e}",
                path.display()
            ))
        })?;
        tls.cert_chain = Some(pem);
    }
    // Parsed here so that a URL that does not parse is never repeated: lapin's error quotes it
    // whole, password and all, and it would reach the log.
    let uri: AMQPUri = url.parse().map_err(|_| {
        MessagingError::Open(
            "[amqp] url is not an AMQP URL (amqp://user:password@host:port/vhost, or amqps://)"
                .to_owned(),
        )
    })?;
    Ok(Connection::connect_uri_with_config(uri, properties, tls).await?)
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
