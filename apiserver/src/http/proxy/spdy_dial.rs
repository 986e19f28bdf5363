//! The SPDY/3.1 upgrade toward a kubelet (client-go's `SpdyRoundTripper`): a `POST` with
//! `Upgrade: SPDY/3.1` and the acceptable `X-Stream-Protocol-Version`s, answered by `101`
//! and the chosen protocol.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rudder_api::status::ApiError;

use super::kubelet::BoxedIo;

pub(crate) const PROTOCOL_HEADER: &str = "x-stream-protocol-version";

/// The kubelet's answer to an upgrade request.
#[derive(Debug)]
pub(crate) enum Dialed {
    /// `101`: the connection now speaks SPDY; `protocol` is the one the kubelet chose.
    Switched { io: TokioIo<Upgraded>, protocol: String },
    /// Anything else, to be reported to the client as it came.
    Refused(Response),
}

/// Asks the kubelet behind `io` to switch `path_and_query` to SPDY/3.1.
pub(crate) async fn dial(
    io: BoxedIo,
    host: &str,
    path_and_query: &str,
    protocols: &[String],
) -> Result<Dialed, ApiError> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path_and_query)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header(header::CONTENT_LENGTH, "0")
        .body(Body::empty())
        .map_err(|e| ApiError::internal(format!("building the kubelet request: {e}")))?;
    if let Ok(h) = HeaderValue::from_str(host) {
        req.headers_mut().insert(header::HOST, h);
    }
    for p in protocols {
        if let Ok(v) = HeaderValue::from_str(p) {
            req.headers_mut().append(PROTOCOL_HEADER, v);
        }
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
    let mut response = sender.send_request(req).await.map_err(backend_err)?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Dialed::Refused(response.map(Body::new)));
    }
    let protocol = response
        .headers()
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_string();
    let io = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| ApiError::internal(format!("upgrading the kubelet connection: {e}")))?;
    Ok(Dialed::Switched {
        io: TokioIo::new(io),
        protocol,
    })
}
