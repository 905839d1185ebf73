//! Opening one AMQP connection, for the [`Broker`](crate::Broker) and for tools that need their
//! own (`leadctl dlq`): `amqp://` in clear, `amqps://` over TLS. The broker's certificate must be
//! signed by one of the Mozilla roots compiled in (the runtime image carries no CA store) or by
//! a CA in `[amqp] ca_file`, and name the URL's host.

use std::path::Path;

use lapin::tcp::OwnedTLSConfig;
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
    Ok(Connection::connect_with_config(url, properties, tls).await?)
}
