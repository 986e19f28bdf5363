//! Protobuf watch streams (`application/vnd.kubernetes.protobuf;stream=watch`), as upstream's
//! streaming protobuf serializer writes them: each event is a `metav1.WatchEvent` (1: `type`,
//! 2: `object`, a `RawExtension` whose `raw` (1) is the object in the `k8s\0` envelope),
//! without an envelope of its own, behind a 4-byte big-endian length
//! (`protobuf.LengthDelimitedFramer`).
//!
//! The watch handler writes JSON event lines; this re-frames them one by one as they come, so a
//! watcher still gets each chunk as soon as the handler flushes it.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::BytesMut;
use futures::StreamExt;
use serde_json::Value;

use super::wire::put_len;

/// The Content-Type of a protobuf watch stream.
pub(crate) const STREAM_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Turns a JSON watch response (one `{"type":...,"object":...}` per line) into a protobuf one.
pub(super) fn reframe(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(STREAM_MEDIA_TYPE));
    parts.headers.remove(header::CONTENT_LENGTH);
    let stream = body.into_data_stream();
    let frames = futures::stream::unfold(
        (stream, BytesMut::new(), false),
        |(mut stream, mut pending, mut ended)| async move {
            loop {
                if ended {
                    return None;
                }
                match stream.next().await {
                    Some(Ok(chunk)) => {
                        pending.extend_from_slice(&chunk);
                        // Only whole lines are events; a partial one waits for the next chunk.
                        let Some(last) = pending.iter().rposition(|b| *b == b'\n') else {
                            continue;
                        };
                        let lines = pending.split_to(last + 1);
                        match frames_of(&lines) {
                            Ok(out) if out.is_empty() => continue,
                            Ok(out) => return Some((Ok(out), (stream, pending, ended))),
                            Err(e) => {
                                // Ending the stream makes the client re-watch; a garbled frame
                                // would leave it unable to read on.
                                tracing::warn!(error = %e, "watch: cannot encode an event as protobuf");
                                ended = true;
                            }
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (stream, pending, true))),
                    None => return None,
                }
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(frames))
}

/// The frames of complete JSON event lines.
fn frames_of(lines: &[u8]) -> Result<Bytes, String> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let event: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or_default();
        let object = event.get("object").unwrap_or(&Value::Null);
        frame(kind, object, &mut out)?;
    }
    Ok(Bytes::from(out))
}

/// Appends one event as a length-prefixed `WatchEvent`.
pub(super) fn frame(kind: &str, object: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    let raw = super::encode(object).map_err(|e| e.to_string())?;
    let mut extension = Vec::with_capacity(raw.len() + 8);
    put_len(&mut extension, 1, &raw);
    let mut event = Vec::with_capacity(extension.len() + kind.len() + 8);
    put_len(&mut event, 1, kind.as_bytes());
    put_len(&mut event, 2, &extension);
    let len = u32::try_from(event.len()).map_err(|_| "watch event too large".to_string())?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&event);
    Ok(())
}
