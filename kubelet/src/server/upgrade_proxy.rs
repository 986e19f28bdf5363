//! Proxies a client's upgrade request (SPDY/3.1 or WebSocket) to the runtime's streaming
//! server and splices the two upgraded connections, as upstream's kubelet does with
//! `proxy.NewUpgradeAwareHandler(url, nil, false, true, …)`: the kubelet does not parse the
//! stream protocols; containerd's streaming server speaks them to the client end to end.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

/// Why the request could not be proxied.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("streaming URL {0:?} is not an http URL with a host")]
    Url(String),
    #[error("connect to the streaming server at {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("streaming server: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the proxied request: {0}")]
    Request(#[from] axum::http::Error),
}

/// A streaming URL split into where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to dial.
    pub authority: String,
    /// Origin-form request target (`/exec/token?...`).
    pub path_and_query: String,
}

impl Target {
    /// Parses the plain-HTTP URL a CRI runtime answers (`http://127.0.0.1:34567/exec/Ab3x`).
    /// HTTPS streaming servers are not supported (containerd serves plain HTTP on loopback by
    /// default).
    pub fn parse(url: &str) -> Result<Target, ProxyError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| ProxyError::Url(url.to_string()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(ProxyError::Url(url.to_string()));
        }
        let authority = if has_port(authority) {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            path_and_query: path.to_string(),
        })
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    }
}

/// Whether the request asks for a protocol upgrade (`Connection: Upgrade` + `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
    });
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// Forwards `req` to `target` and, when the streaming server switches protocols, splices the
/// client's and the server's connections until both ends close. Requests that do not ask for
/// an upgrade are refused (400), as upstream's kubelet does.
pub async fn proxy(mut req: Request<Body>, target: &Target) -> Response {
    if !is_upgrade(req.headers()) {
        return (StatusCode::BAD_REQUEST, "Upgrade request required").into_response();
    }
    let client_upgrade = hyper::upgrade::on(&mut req);
    match forward(req, target).await {
        Ok(mut response) => {
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                let backend_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(splice(client_upgrade, backend_upgrade));
            }
            response.map(Body::new)
        }
        Err(error) => {
            tracing::warn!(%error, "streaming proxy failed");
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}

async fn forward(req: Request<Body>, target: &Target) -> Result<Response<hyper::body::Incoming>, ProxyError> {
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|source| ProxyError::Connect {
            addr: target.authority.clone(),
            source,
        })?;
    let (parts, body) = req.into_parts();
    let mut out = Request::builder()
        .method(parts.method)
        .uri(target.path_and_query.as_str())
        .body(body)?;
    for (name, value) in &parts.headers {
        // The apiserver's credentials are for the kubelet, not for the runtime.
        if name == header::HOST || name == header::AUTHORIZATION {
            continue;
        }
        out.headers_mut().append(name.clone(), value.clone());
    }
    if let Ok(host) = HeaderValue::from_str(&target.authority) {
        out.headers_mut().insert(header::HOST, host);
    }
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "streaming server connection ended");
        }
    });
    Ok(sender.send_request(out).await?)
}

/// Copies bytes both ways between the two upgraded connections.
async fn splice(client: hyper::upgrade::OnUpgrade, backend: hyper::upgrade::OnUpgrade) {
    let (client, backend) = match tokio::try_join!(client, backend) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(%error, "upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut backend = TokioIo::new(backend);
    match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
        Ok((up, down)) => tracing::debug!(up, down, "stream closed"),
        Err(error) => tracing::debug!(%error, "stream ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_streaming_urls() {
        let t = Target::parse("http://127.0.0.1:34567/exec/Ab3x").unwrap();
        assert_eq!(t.authority, "127.0.0.1:34567");
        assert_eq!(t.path_and_query, "/exec/Ab3x");
        let t = Target::parse("http://[::1]:10010/portforward/x?a=b").unwrap();
        assert_eq!(t.authority, "[::1]:10010");
        assert_eq!(t.path_and_query, "/portforward/x?a=b");
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.authority, "localhost:80");
        assert_eq!(t.path_and_query, "/");
        let t = Target::parse("http://[::1]/a").unwrap();
        assert_eq!(t.authority, "[::1]:80");
        assert!(Target::parse("https://127.0.0.1:1/exec/x").is_err());
        assert!(Target::parse("http:///exec").is_err());
    }

    #[test]
    fn upgrade_detection() {
        let mut h = HeaderMap::new();
        assert!(!is_upgrade(&h));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(!is_upgrade(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade(&h));
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        assert!(!is_upgrade(&h));
    }
}
