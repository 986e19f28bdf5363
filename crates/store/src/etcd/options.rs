//! How to reach etcd: endpoints, key prefix, deadlines and TLS.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Certificate, Identity, TlsOptions};

use super::DEFAULT_PREFIX;
use crate::{Result, StoreError};

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Client URLs of the etcd members, such as `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Prepended to every key and stripped from every returned key. A trailing `/` is ignored, so
    /// `/registry` and `/registry/` both store `/pods/a` as `/registry/pods/a`. Empty: no prefix.
    pub prefix: String,
    /// How long to wait for a TCP/HTTP2 connection to an endpoint.
    pub connect_timeout: Duration,
    /// Deadline of every request (and of opening a watch). A request that gets no answer in time,
    /// for example because etcd is down, fails with [`StoreError::Unavailable`].
    pub request_timeout: Duration,
    /// HTTP/2 keep-alive `(interval, timeout)` on connections with open streams, so a watch on a
    /// dead connection fails instead of waiting forever. etcd rejects pings more often than every
    /// 5 s (`--grpc-keepalive-min-time`).
    pub keep_alive: Option<(Duration, Duration)>,
    /// TLS to etcd (upstream's `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`). Required
    /// for `https://` endpoints; with it, plain `http://` endpoints are refused, so a typo cannot
    /// send data in clear text.
    pub tls: Option<EtcdTls>,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            endpoints: vec!["http://127.0.0.1:2379".to_string()],
            prefix: DEFAULT_PREFIX.to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            keep_alive: Some((Duration::from_secs(30), Duration::from_secs(10))),
            tls: None,
        }
    }
}

/// PEM files for TLS to etcd (see [`EtcdOptions::tls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdTls {
    /// CA bundle that signed the etcd server certificates.
    pub ca_file: PathBuf,
    /// Client certificate and key, for etcd's client-certificate authentication.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

/// An `http://` endpoint with TLS configured, or an `https://` one without, is a mistake to
/// report rather than guess at (endpoints without a scheme take the configured one).
pub(super) fn check_schemes(endpoints: &[String], tls: bool) -> Result<()> {
    let (refused, hint) = if tls {
        ("http://", "TLS is configured: use https://")
    } else {
        (
            "https://",
            "TLS to etcd needs --etcd-cafile (and a client certificate if etcd asks for one)",
        )
    };
    match endpoints.iter().find(|e| e.starts_with(refused)) {
        Some(e) => Err(StoreError::InvalidArgument(format!(
            "etcd endpoint {e:?}: {hint}"
        ))),
        None => Ok(()),
    }
}

/// Reads the CA bundle and the optional client identity.
pub(super) fn tls_options(tls: &EtcdTls) -> Result<TlsOptions> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| StoreError::InvalidArgument(format!("reading {}: {e}", path.display())))
    };
    let mut options = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca_file)?));
    match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            options = options.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(StoreError::InvalidArgument(
                "an etcd client certificate needs both its certificate and its key file".into(),
            ));
        }
    }
    Ok(options)
}
