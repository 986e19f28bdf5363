//! Port-forward over WebSocket (upstream's `TunnelingHandler`, kubectl 1.31+ by default): the
//! client offers `SPDY/3.1+portforward.k8s.io` and sends SPDY frames inside WebSocket binary
//! messages. We upgrade to SPDY toward the kubelet and, once it answers 101, accept the
//! WebSocket with the protocol it chose and carry bytes both ways unchanged. A kubelet that
//! refuses is answered as it answered, so the client falls back to plain SPDY.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rudder_api::status::ApiError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spdy_dial::Dialed;
use super::translator::{DialFuture, is_websocket, normal_close, offered_protocols};

/// The prefix a tunneled SPDY protocol carries in `Sec-WebSocket-Protocol`.
pub(crate) const PREFIX: &str = "SPDY/3.1+";

/// The SPDY protocols a tunneling request offers (`SPDY/3.1+<p>` with a `.k8s.io` name).
pub(crate) fn tunneled_protocols(headers: &HeaderMap) -> Vec<String> {
    if !is_websocket(headers) {
        return Vec::new();
    }
    offered_protocols(headers)
        .into_iter()
        .filter_map(|p| p.strip_prefix(PREFIX).map(str::to_string))
        .filter(|p| p.ends_with(".k8s.io"))
        .collect()
}

/// Dials the kubelet, then accepts the WebSocket or relays the kubelet's refusal.
pub(crate) async fn serve(ws: WebSocketUpgrade, dial: DialFuture, who: String) -> Result<Response, ApiError> {
    match dial.await? {
        Dialed::Refused(response) => Ok(response),
        Dialed::Switched { io, protocol } => {
            let chosen = format!("{PREFIX}{protocol}");
            tracing::info!(pod = %who, protocol = %chosen, "port-forward tunneled over WebSocket");
            Ok(ws
                .protocols([chosen])
                .on_upgrade(move |socket| splice(socket, io)))
        }
    }
}

async fn splice(socket: WebSocket, io: TokioIo<Upgraded>) {
    let (mut sink, mut source) = socket.split();
    let (mut rd, mut wr) = tokio::io::split(io);
    let up = async {
        while let Some(Ok(message)) = source.next().await {
            match message {
                Message::Binary(b) if wr.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = wr.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sink
                        .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(normal_close()).await;
    };
    // Either side ending ends the tunnel: SPDY has its own stream and session shutdown.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_k8s_protocols_behind_the_prefix() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert(
            "sec-websocket-protocol",
            "SPDY/3.1+portforward.k8s.io, SPDY/3.1+other, v5.channel.k8s.io"
                .parse()
                .unwrap(),
        );
        assert_eq!(tunneled_protocols(&h), vec!["portforward.k8s.io".to_string()]);
        h.insert("upgrade", "SPDY/3.1".parse().unwrap());
        assert!(tunneled_protocols(&h).is_empty());
    }
}
