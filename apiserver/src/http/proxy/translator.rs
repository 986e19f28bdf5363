//! The stream translator (upstream's `StreamTranslatorHandler`, 1.30+): a client that opens
//! exec or attach as a WebSocket with `v5.channel.k8s.io` is answered here, and the apiserver
//! speaks SPDY/3.1 (remotecommand v4) to the kubelet on its behalf, because kubelets and the
//! runtime streaming servers behind them only speak SPDY.
//!
//! WebSocket side: binary messages whose first byte is the channel (0 stdin, 1 stdout,
//! 2 stderr, 3 error, 4 resize, 255 close of a channel). SPDY side: one stream per channel,
//! opened by us with a `streamtype` header; the error stream carries the final Status.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use rudder_api::status::ApiError;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use super::spdy::{self, FLAG_FIN, Frame, HeaderDecoder, HeaderEncoder};
use super::spdy_dial::Dialed;

/// The only WebSocket subprotocol the translator serves, as upstream.
pub(crate) const V5: &str = "v5.channel.k8s.io";
/// What we ask of the kubelet: v4 carries the exit code as a Status on the error stream.
const KUBELET_PROTOCOL: &str = "v4.channel.k8s.io";
/// How long the kubelet has to accept every stream (client-go's stream creation timeout).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long we wait for the client to close after the final status.
const FINISH_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on the error stream (a Status is a few hundred bytes).
const MAX_ERROR_STREAM: usize = 1 << 20;

/// The streams the client asked for (`stdin`, `stdout`, `stderr`, `tty` query parameters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamOptions {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
    pub(crate) tty: bool,
}

impl StreamOptions {
    pub(crate) fn from_query(pairs: &[(String, String)]) -> StreamOptions {
        let b = |k| super::pods::query_bool(pairs, k);
        StreamOptions {
            stdin: b("stdin"),
            stdout: b("stdout"),
            stderr: b("stderr"),
            tty: b("tty"),
        }
    }
}

/// One SPDY stream's role, named by its `streamtype` header and its WebSocket channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl Kind {
    fn stream_type(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Stdin => "stdin",
            Kind::Stdout => "stdout",
            Kind::Stderr => "stderr",
            Kind::Resize => "resize",
        }
    }
}

/// The SPDY streams to open, in client-go's order, with their (odd, client-side) ids. With a
/// terminal stderr is merged into stdout and a resize stream is opened instead, which is
/// also what the kubelet expects to be asked for.
pub(crate) fn plan_streams(opts: StreamOptions) -> Vec<(Kind, u32)> {
    let mut kinds = vec![Kind::Error];
    if opts.stdin {
        kinds.push(Kind::Stdin);
    }
    if opts.stdout {
        kinds.push(Kind::Stdout);
    }
    if opts.stderr && !opts.tty {
        kinds.push(Kind::Stderr);
    }
    if opts.tty {
        kinds.push(Kind::Resize);
    }
    kinds.into_iter().zip((1u32..).step_by(2)).collect()
}

/// Whether a request is a WebSocket upgrade offering `v5.channel.k8s.io` (upstream's
/// `IsWebSocketRequestWithStreamCloseProtocol`); others go to the kubelet unchanged.
pub(crate) fn wants_translation(headers: &HeaderMap) -> bool {
    is_websocket(headers) && offered_protocols(headers).iter().any(|p| p == V5)
}

pub(crate) use rudder_component::websocket_token::is_websocket_upgrade as is_websocket;

/// `Sec-WebSocket-Protocol` values, comma lists split.
pub(crate) fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The final Status for the client from what the kubelet wrote on the error stream: nothing
/// means success; v4's JSON Status (with the exit code of a failed command) passes as is.
pub(crate) fn final_status(error_stream: &[u8]) -> Value {
    if error_stream.iter().all(u8::is_ascii_whitespace) {
        return json!({"metadata": {}, "status": "Success"});
    }
    match serde_json::from_slice::<Value>(error_stream) {
        Ok(v) if v.get("status").is_some() => v,
        _ => ApiError::internal(format!(
            "error executing remote command: {}",
            String::from_utf8_lossy(error_stream)
        ))
        .to_status(),
    }
}

/// The Status for a kubelet that refused the SPDY upgrade: its own Status when it sent one.
async fn refusal_status(response: Response) -> Value {
    let code = response.status().as_u16();
    let body = match response.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return ApiError::internal(e.to_string()).to_status(),
    };
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) if v.get("kind").and_then(Value::as_str) == Some("Status") => v,
        _ => ApiError::internal(format!(
            "unable to upgrade connection: {} ({code})",
            String::from_utf8_lossy(&body[..body.len().min(4096)]).trim()
        ))
        .to_status(),
    }
}

/// How the translator reaches the kubelet (dialed once the client's upgrade is accepted).
pub(crate) type DialFuture = Pin<Box<dyn Future<Output = Result<Dialed, ApiError>> + Send>>;

/// The SPDY protocols we offer the kubelet.
pub(crate) fn kubelet_protocols() -> Vec<String> {
    vec![KUBELET_PROTOCOL.to_string()]
}

/// Accepts the client's WebSocket and runs the session in the background.
pub(crate) fn serve(ws: WebSocketUpgrade, opts: StreamOptions, dial: DialFuture, who: String) -> Response {
    ws.protocols([V5]).on_upgrade(move |socket| async move {
        tracing::info!(pod = %who, ?opts, "exec/attach over WebSocket v5 translated to SPDY");
        session(socket, opts, dial).await;
    })
}

type WsSink = SplitSink<WebSocket, Message>;

/// A close frame with code 1000: client-go reads that as the end of every channel, while a
/// close without a code is an error ("close 1005 (no status)") that loses the exit code.
pub(crate) fn normal_close() -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }))
}

fn channel_message(channel: u8, data: &[u8]) -> Message {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(channel);
    m.extend_from_slice(data);
    Message::Binary(Bytes::from(m))
}

async fn session(socket: WebSocket, opts: StreamOptions, dial: DialFuture) {
    let (mut sink, source) = socket.split();
    // An empty message on the lowest writable channel tells the client the connection is up.
    let first = if opts.stdout {
        1
    } else if opts.stderr {
        2
    } else {
        3
    };
    if sink.send(channel_message(first, &[])).await.is_err() {
        return;
    }
    let gone = Arc::new(Notify::new());
    let status = match dial.await {
        Ok(Dialed::Switched { io, protocol }) => {
            tracing::debug!(%protocol, "kubelet switched to SPDY");
            let mut up = Some(source);
            let status = run(&mut sink, &mut up, io, opts, gone.clone()).await;
            finish(sink, up, status).await;
            return;
        }
        Ok(Dialed::Refused(response)) => refusal_status(response).await,
        Err(e) => e.to_status(),
    };
    finish(sink, Some(source), status).await;
}

/// Sends the final status and a close frame, then waits (bounded) for the client to close.
async fn finish(mut sink: WsSink, source: Option<SplitStream<WebSocket>>, status: Value) {
    let body = serde_json::to_vec(&status).unwrap_or_default();
    let _ = sink.send(channel_message(3, &body)).await;
    let _ = sink.send(normal_close()).await;
    if let Some(mut source) = source {
        let _ = tokio::time::timeout(FINISH_TIMEOUT, async {
            while let Some(Ok(m)) = source.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Streams to the kubelet until its side ends; returns the final status. `up` is taken when
/// the client-to-kubelet pump starts (after the kubelet accepted every stream).
async fn run<IO>(
    sink: &mut WsSink,
    up: &mut Option<SplitStream<WebSocket>>,
    io: IO,
    opts: StreamOptions,
    gone: Arc<Notify>,
) -> Value
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(io);
    let (frames, writer_rx) = mpsc::channel::<Frame>(32);
    let writer = tokio::spawn(write_frames(wr, writer_rx));
    let plan = plan_streams(opts);
    let by_id: HashMap<u32, Kind> = plan.iter().map(|(k, id)| (*id, *k)).collect();
    for (kind, id) in &plan {
        let headers = vec![("streamtype".to_string(), kind.stream_type().to_string())];
        if frames
            .send(Frame::SynStream {
                stream: *id,
                flags: 0,
                headers,
            })
            .await
            .is_err()
        {
            return ApiError::internal("the kubelet connection closed").to_status();
        }
    }
    let created = tokio::time::Instant::now() + STREAM_CREATION_TIMEOUT;
    let mut replied = HashSet::new();
    let mut finished = HashSet::new();
    let mut error_stream = Vec::new();
    let mut pump: Option<tokio::task::JoinHandle<Option<SplitStream<WebSocket>>>> = None;
    let outputs: Vec<u32> = plan
        .iter()
        .filter(|(k, _)| matches!(k, Kind::Error | Kind::Stdout | Kind::Stderr))
        .map(|(_, id)| *id)
        .collect();
    let mut dec = HeaderDecoder::default();
    let stop = Arc::new(Notify::new());
    let outcome: Result<(), ApiError> = loop {
        let frame = tokio::select! {
            f = spdy::read_frame(&mut rd, &mut dec) => f,
            _ = gone.notified() => break Ok(()),
            _ = tokio::time::sleep_until(created), if pump.is_none() => {
                break Err(ApiError::internal("timed out waiting for the kubelet to accept the streams"));
            }
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(ApiError::internal(e.to_string())),
        };
        match frame {
            Frame::Data { stream, flags, data } => {
                let sent = match by_id.get(&stream) {
                    Some(Kind::Stdout) if !data.is_empty() => sink.send(channel_message(1, &data)).await,
                    Some(Kind::Stderr) if !data.is_empty() => sink.send(channel_message(2, &data)).await,
                    Some(Kind::Error) => {
                        let room = MAX_ERROR_STREAM.saturating_sub(error_stream.len());
                        error_stream.extend_from_slice(&data[..data.len().min(room)]);
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break Ok(());
                }
                if flags & FLAG_FIN != 0 {
                    finished.insert(stream);
                }
            }
            Frame::SynReply { stream, flags, .. } => {
                replied.insert(stream);
                if flags & FLAG_FIN != 0 {
                    finished.insert(stream);
                }
            }
            Frame::RstStream { stream, .. } => {
                if !replied.contains(&stream) && pump.is_none() {
                    break Err(ApiError::internal("the kubelet refused a stream"));
                }
                finished.insert(stream);
            }
            // Pings the kubelet starts (even ids) are echoed.
            Frame::Ping { id } if id.is_multiple_of(2) => {
                let _ = frames.send(Frame::Ping { id }).await;
            }
            Frame::GoAway { .. } => break Ok(()),
            _ => {}
        }
        if pump.is_none()
            && by_id.keys().all(|id| replied.contains(id))
            && let Some(source) = up.take()
        {
            pump = Some(tokio::spawn(client_to_kubelet(
                source,
                frames.clone(),
                plan.clone(),
                gone.clone(),
                stop.clone(),
            )));
        }
        if outputs.iter().all(|id| finished.contains(id)) {
            break Ok(());
        }
    };
    drop(frames);
    // Stop the writer first so a pump blocked on a full queue lets go, then take the client's
    // side back (when it is still open) for `finish` to wait on.
    writer.abort();
    stop.notify_one();
    if let Some(p) = pump
        && let Ok(Some(source)) = p.await
    {
        *up = Some(source);
    }
    match outcome {
        Ok(()) => final_status(&error_stream),
        Err(e) => e.to_status(),
    }
}

async fn write_frames<W: tokio::io::AsyncWrite + Unpin>(mut wr: W, mut rx: mpsc::Receiver<Frame>) {
    use tokio::io::AsyncWriteExt;
    let mut enc = match HeaderEncoder::new() {
        Ok(e) => e,
        Err(error) => {
            tracing::warn!(%error, "spdy header encoder");
            return;
        }
    };
    while let Some(frame) = rx.recv().await {
        let bytes = match spdy::encode(&frame, &mut enc) {
            Ok(b) => b,
            Err(error) => {
                tracing::debug!(%error, "encoding a spdy frame");
                return;
            }
        };
        if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Client messages to SPDY frames: stdin data, resize events, and v5's close of stdin.
/// Returns the client's side when told to `stop` or when the kubelet side is gone, `None`
/// when the client closed (then `gone` is notified).
async fn client_to_kubelet(
    mut source: SplitStream<WebSocket>,
    frames: mpsc::Sender<Frame>,
    plan: Vec<(Kind, u32)>,
    gone: Arc<Notify>,
    stop: Arc<Notify>,
) -> Option<SplitStream<WebSocket>> {
    let id_of = |k: Kind| plan.iter().find(|(kind, _)| *kind == k).map(|(_, id)| *id);
    let (stdin, resize) = (id_of(Kind::Stdin), id_of(Kind::Resize));
    let mut stdin_open = stdin.is_some();
    loop {
        let message = tokio::select! {
            m = source.next() => m,
            _ = stop.notified() => return Some(source),
        };
        let data = match message {
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => continue,
        };
        let Some((&channel, payload)) = data.split_first() else {
            continue;
        };
        let mut out = Vec::new();
        match channel {
            0 if stdin_open => {
                if let Some(id) = stdin {
                    for chunk in payload.chunks(spdy::MAX_DATA_CHUNK) {
                        out.push(Frame::Data {
                            stream: id,
                            flags: 0,
                            data: Bytes::copy_from_slice(chunk),
                        });
                    }
                }
            }
            4 => {
                if let Some(id) = resize {
                    out.push(Frame::Data {
                        stream: id,
                        flags: 0,
                        data: Bytes::copy_from_slice(payload),
                    });
                }
            }
            255 if payload.first() == Some(&0) && stdin_open => {
                if let Some(id) = stdin {
                    stdin_open = false;
                    out.push(Frame::Data {
                        stream: id,
                        flags: FLAG_FIN,
                        data: Bytes::new(),
                    });
                }
            }
            _ => {}
        }
        for frame in out {
            if frames.send(frame).await.is_err() {
                return Some(source);
            }
        }
    }
    gone.notify_one();
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_as_client_go_opens_them() {
        let o = |stdin, stdout, stderr, tty| StreamOptions {
            stdin,
            stdout,
            stderr,
            tty,
        };
        use Kind::*;
        let cases = [
            (
                o(false, true, true, false),
                vec![(Error, 1), (Stdout, 3), (Stderr, 5)],
            ),
            (
                o(true, true, true, false),
                vec![(Error, 1), (Stdin, 3), (Stdout, 5), (Stderr, 7)],
            ),
            (
                o(true, true, true, true),
                vec![(Error, 1), (Stdin, 3), (Stdout, 5), (Resize, 7)],
            ),
            (o(false, false, false, false), vec![(Error, 1)]),
        ];
        for (opts, want) in cases {
            assert_eq!(plan_streams(opts), want, "{opts:?}");
        }
    }

    #[test]
    fn final_status_from_the_error_stream() {
        assert_eq!(final_status(b"")["status"], "Success");
        let exit3 = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        assert_eq!(final_status(exit3)["details"]["causes"][0]["message"], "3");
        let text = final_status(b"container not found");
        assert_eq!(text["status"], "Failure");
        assert_eq!(text["code"], 500);
        assert!(text["message"].as_str().unwrap().contains("container not found"));
    }

    #[test]
    fn translation_only_for_v5_websockets() {
        let mut h = HeaderMap::new();
        h.insert("connection", "Upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert(
            "sec-websocket-protocol",
            "v4.channel.k8s.io, v5.channel.k8s.io".parse().unwrap(),
        );
        assert!(wants_translation(&h));
        h.insert("sec-websocket-protocol", "v4.channel.k8s.io".parse().unwrap());
        assert!(!wants_translation(&h));
        h.insert("upgrade", "SPDY/3.1".parse().unwrap());
        h.insert("sec-websocket-protocol", "v5.channel.k8s.io".parse().unwrap());
        assert!(!wants_translation(&h));
    }
}
