//! Calling a webhook: where (`clientConfig.url`, or `clientConfig.service` resolved to one of
//! the Service's ready endpoints, else its ClusterIP), TLS trusting `caBundle`, one HTTP/1.1
//! POST of the review with the webhook's timeout.
//!
//! Upstream dials a service through the apiserver's service resolver (the ClusterIP via
//! kube-proxy, or endpoints with `--enable-aggregator-routing`); Rudder always prefers a
//! ready endpoint so that no proxy is needed, and verifies the certificate for
//! `<service>.<namespace>.svc` as upstream does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;

/// Where one webhook is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The address dialled.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The name the certificate must carry.
    pub(crate) server_name: String,
    /// Path and query.
    pub(crate) path: String,
}

/// Parses `https://host[:port][/path]` (upstream requires https and no user info or fragment).
pub(crate) fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("webhook url {url:?} must use https"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let (host, port) = split_host_port(authority)?;
    Ok(Target {
        server_name: host.clone(),
        host,
        port,
        path,
    })
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let bad = || format!("invalid webhook host {authority:?}");
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => 443,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        None if authority.is_empty() => Err(bad()),
        None => Ok((authority.to_string(), 443)),
    }
}

/// The request path with upstream's `timeout` query parameter.
pub(crate) fn with_timeout(path: &str, timeout: Duration) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}timeout={}s", timeout.as_secs())
}

/// TLS client configurations by CA bundle, so that calls share one (and its session cache:
/// later handshakes resume). Bounded like the CEL program cache.
static TLS_CONFIGS: std::sync::LazyLock<parking_lot::Mutex<HashMap<Vec<u8>, Arc<ClientConfig>>>> =
    std::sync::LazyLock::new(Default::default);

fn cached_tls_config(ca_bundle: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let key = ca_bundle.unwrap_or_default();
    if let Some(cfg) = TLS_CONFIGS.lock().get(key) {
        return Ok(cfg.clone());
    }
    let cfg = Arc::new(tls_config(ca_bundle)?);
    let mut cache = TLS_CONFIGS.lock();
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(key.to_vec(), cfg.clone());
    Ok(cfg)
}

/// The TLS client trusting `ca_bundle` (base64-decoded PEM); without one, nothing is trusted
/// (Rudder has no system trust store; upstream would use the host's).
fn tls_config(ca_bundle: Option<&[u8]>) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_bundle.unwrap_or_default()) {
        let cert = cert.map_err(|e| format!("invalid caBundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("invalid caBundle: {e}"))?;
    }
    let provider = rudder_component::tls::crypto_provider();
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// POSTs `body` and returns the response body; any failure (dial, TLS, HTTP status, timeout)
/// is a call error worded like upstream's.
pub(crate) async fn post(
    target: &Target,
    ca_bundle: Option<&[u8]>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let path = with_timeout(&target.path, timeout);
    let url = format!("https://{}:{}{path}", bracket(&target.server_name), target.port);
    let fail = |why: String| format!("failed to call webhook: Post {url:?}: {why}");
    match tokio::time::timeout(timeout, exchange(target, ca_bundle, &path, body)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(why)) => Err(fail(why)),
        Err(_) => Err(fail("context deadline exceeded".into())),
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

async fn exchange(
    target: &Target,
    ca_bundle: Option<&[u8]>,
    path: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let tls = tokio_rustls::TlsConnector::from(cached_tls_config(ca_bundle)?);
    let name = ServerName::try_from(target.server_name.clone()).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("dial tcp {}:{}: {e}", bracket(&target.host), target.port))?;
    let _ = tcp.set_nodelay(true);
    let stream = tls.connect(name, tcp).await.map_err(|e| format!("tls: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = http::Request::post(path)
        .header(
            http::header::HOST,
            format!("{}:{}", bracket(&target.server_name), target.port),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let result = async {
        let resp = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "the server responded with status {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(bytes.to_vec())
    }
    .await;
    driver.abort();
    result
}

/// `clientConfig.service` resolved against the Service and its EndpointSlices (JSON as
/// stored): a ready endpoint address with the target port, else the ClusterIP.
pub(crate) fn resolve_service(
    reference: &Value,
    service: Option<&Value>,
    slices: &[Value],
) -> Result<Target, String> {
    let ns = reference
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = reference.get("name").and_then(Value::as_str).unwrap_or_default();
    let port = reference.get("port").and_then(Value::as_u64).unwrap_or(443);
    let path = reference
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_string();
    let server_name = format!("{name}.{ns}.svc");
    let service = service.ok_or_else(|| format!("service \"{name}\" not found"))?;
    let svc_port = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(port))
        })
        .ok_or_else(|| format!("service {ns}/{name} has no port {port}"))?;
    let port_name = svc_port.get("name").and_then(Value::as_str).unwrap_or_default();
    for slice in slices {
        let Some(ep_port) = slice
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p.get("name").and_then(Value::as_str).unwrap_or_default() == port_name)
            })
            .and_then(|p| p.get("port").and_then(Value::as_u64))
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        let ready = slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|e| e.pointer("/conditions/ready").and_then(Value::as_bool) != Some(false));
        if let Some(addr) = ready
            .and_then(|e| e.pointer("/addresses/0"))
            .and_then(Value::as_str)
        {
            return Ok(Target {
                host: addr.to_string(),
                port: ep_port,
                server_name,
                path,
            });
        }
    }
    let cluster_ip = service
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty() && *ip != "None")
        .ok_or_else(|| format!("service {ns}/{name} has no ready endpoints"))?;
    Ok(Target {
        host: cluster_ip.to_string(),
        port: u16::try_from(port).map_err(|_| format!("invalid port {port}"))?,
        server_name,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_parse() {
        let t = parse_url("https://127.0.0.1:8443/validate?x=1").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8443, "/validate?x=1")
        );
        let t = parse_url("https://hook.example.com").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("hook.example.com", 443, "/")
        );
        let t = parse_url("https://[::1]:9443/m").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9443));
        assert!(parse_url("http://a/b").is_err());
        assert_eq!(with_timeout("/v", Duration::from_secs(10)), "/v?timeout=10s");
        assert_eq!(
            with_timeout("/v?a=b", Duration::from_secs(3)),
            "/v?a=b&timeout=3s"
        );
    }

    #[test]
    fn services_resolve_to_a_ready_endpoint_else_the_cluster_ip() {
        let reference = json!({"namespace": "ns", "name": "hook", "path": "/v"});
        let svc = json!({"spec": {"clusterIP": "10.0.0.5", "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}});
        let slices = [json!({
            "ports": [{"name": "https", "port": 8443}],
            "endpoints": [
                {"addresses": ["10.1.0.1"], "conditions": {"ready": false}},
                {"addresses": ["10.1.0.2"], "conditions": {"ready": true}}
            ]
        })];
        let t = resolve_service(&reference, Some(&svc), &slices).expect("resolves");
        assert_eq!(
            (t.host.as_str(), t.port, t.server_name.as_str(), t.path.as_str()),
            ("10.1.0.2", 8443, "hook.ns.svc", "/v")
        );
        let t = resolve_service(&reference, Some(&svc), &[]).expect("cluster ip");
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.5", 443));
        assert!(resolve_service(&reference, None, &[]).is_err());
    }
}
