//! Upstream's WebSocket protocol authenticator (k8s.io/apiserver/pkg/authentication/request/
//! websocket): browsers cannot set an `Authorization` header on a WebSocket, so a bearer token
//! may come as the subprotocol `base64url.bearer.authorization.k8s.io.<unpadded base64url>`.
//! Shared by kube-apiserver and the kubelet's server, which both accept it.

use base64::Engine;
use http::HeaderMap;
use http::header::{CONNECTION, SEC_WEBSOCKET_PROTOCOL, UPGRADE};

/// The subprotocol prefix that carries the token.
pub const PROTOCOL_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

/// Whether the request asks for a WebSocket upgrade (`Connection: upgrade`, `Upgrade: websocket`).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrades = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
    let websocket = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    upgrades && websocket
}

/// The `Sec-WebSocket-Protocol` entries, trimmed, over every instance of the header.
fn protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The token of a WebSocket upgrade: only one token subprotocol, and at least one other
/// subprotocol left to echo back. The error is upstream's message.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    if !is_websocket_upgrade(headers) {
        return Ok(None);
    }
    let (mut token, mut others) = (None, 0);
    for protocol in protocols(headers) {
        let Some(encoded) = protocol.strip_prefix(PROTOCOL_PREFIX) else {
            others += 1;
            continue;
        };
        if token.is_some() {
            return Err("multiple base64.bearer.authorization tokens specified");
        }
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "invalid base64.bearer.authorization token encoding")?;
        token = Some(String::from_utf8(decoded).map_err(|_| "invalid base64.bearer.authorization token")?);
    }
    match token {
        Some(t) if t.is_empty() => Ok(None),
        Some(_) if others == 0 => Err("missing additional subprotocol"),
        other => Ok(other),
    }
}

/// `Sec-WebSocket-Protocol` without the token entry, so the token goes no further than
/// authentication (as upstream); `None` when there was no token entry.
pub fn without_token(headers: &HeaderMap) -> Option<String> {
    let mut saw = false;
    let kept: Vec<&str> = protocols(headers)
        .filter(|p| {
            let token = p.starts_with(PROTOCOL_PREFIX);
            saw |= token;
            !token
        })
        .collect();
    saw.then(|| kept.join(","))
}
