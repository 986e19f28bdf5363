//! Upgrade-aware forwarding (upstream's `proxy.UpgradeAwareHandler`): the request goes to the
//! kubelet as it came (method, upgrade headers, body) minus the client's credentials; when the
//! kubelet switches protocols (SPDY/3.1, WebSocket) the two connections are spliced byte for
//! byte, so every stream protocol the kubelet speaks reaches the client unchanged.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use rudder_api::status::ApiError;

use super::kubelet::BoxedIo;

/// Whether the request asks for a protocol upgrade (`Connection: Upgrade` + `Upgrade`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
    });
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// Headers that belong to one hop (RFC 9110 §7.6.1), dropped on plain requests; on upgrades
/// `Connection` and `Upgrade` are what the backend must see, so they stay.
const HOP_BY_HOP: [&str; 7] = [
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// Whether a client request header is passed to the kubelet.
pub(crate) fn forwarded_header(name: &HeaderName, upgrade: bool) -> bool {
    let n = name.as_str();
    if n == "host" || n == "authorization" || n.starts_with("impersonate-") {
        // Our credentials were checked here; the kubelet authenticates the apiserver.
        return false;
    }
    if HOP_BY_HOP.contains(&n) {
        return false;
    }
    upgrade || !(n == "connection" || n == "upgrade")
}

/// Sends `req` to the kubelet at the other end of `io` as `path_and_query`. An upgrade that the
/// kubelet accepts is spliced in the background; any other answer is streamed back as is.
pub(crate) async fn forward(
    io: BoxedIo,
    host: &str,
    path_and_query: &str,
    mut req: Request<Body>,
) -> Result<Response, ApiError> {
    let upgrade = is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut out = Request::builder()
        .method(parts.method)
        .uri(path_and_query)
        .body(body)
        .map_err(|e| ApiError::internal(format!("building the backend request: {e}")))?;
    for (name, value) in &parts.headers {
        if forwarded_header(name, upgrade) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    if let Ok(h) = HeaderValue::from_str(host) {
        out.headers_mut().insert(header::HOST, h);
    }
    let backend_err = |e: hyper::Error| ApiError::internal(format!("error trying to reach the kubelet: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(backend_err)?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "kubelet connection ended");
        }
    });
    let mut response = sender.send_request(out).await.map_err(backend_err)?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        match client_upgrade {
            Some(client) => {
                let backend = hyper::upgrade::on(&mut response);
                tokio::spawn(splice(client, backend));
            }
            None => {
                return Err(ApiError::internal(
                    "the kubelet switched protocols without being asked to",
                ));
            }
        }
    }
    Ok(response.map(Body::new))
}

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
        Ok((up, down)) => tracing::debug!(up, down, "proxied stream closed"),
        Err(error) => tracing::debug!(%error, "proxied stream ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_passed_on() {
        let h = |s: &'static str| HeaderName::from_static(s);
        assert!(!forwarded_header(&h("authorization"), true));
        assert!(!forwarded_header(&h("impersonate-user"), false));
        assert!(!forwarded_header(&h("host"), false));
        assert!(forwarded_header(&h("connection"), true));
        assert!(forwarded_header(&h("upgrade"), true));
        assert!(!forwarded_header(&h("connection"), false));
        assert!(!forwarded_header(&h("transfer-encoding"), false));
        assert!(forwarded_header(&h("x-stream-protocol-version"), true));
        assert!(forwarded_header(&h("sec-websocket-protocol"), true));
        assert!(forwarded_header(&h("accept"), false));
    }

    #[test]
    fn upgrade_detection() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        assert!(!is_upgrade(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
    }
}
