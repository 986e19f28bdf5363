//! WATCH: a chunked stream of `{"type":...,"object":...}` lines served from the watch cache,
//! with initial events, selector transitions (an object leaving a selector is DELETED for that
//! watcher), bookmarks, `timeoutSeconds`, and 410 for a too-old resourceVersion.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use rudder_api::status::ApiError;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::AppState;
use super::response::{ApiResult, Format};
use crate::registry::watch_cache::{CachedObject, EventType, Fanout, SubscribeError};
use crate::registry::{ListParams, Resource};

/// Upstream's default bookmark interval is about a minute; kubectl does not need them sooner.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Without `timeoutSeconds`, upstream picks a random timeout of 30–60 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Encoder {
    res: Arc<Resource>,
    format: Format,
    headers_sent: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: &CachedObject) -> Bytes {
        let mut line = match self.format {
            Format::Json => {
                let mut out = Vec::with_capacity(obj.json.len() + 32);
                out.extend_from_slice(br#"{"type":""#);
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(br#"","object":"#);
                out.extend_from_slice(&obj.json);
                out.push(b'}');
                out
            }
            Format::Metadata => {
                let object = rudder_api::table::partial_object_metadata(&obj.value);
                json!({ "type": kind, "object": object }).to_string().into_bytes()
            }
            Format::Table(include) => {
                let meta = json!({ "resourceVersion": obj.revision.to_string() });
                let mut t = self.res.table(std::slice::from_ref(&obj.value), include, &meta);
                // Upstream sends column definitions with the first event only.
                if self.headers_sent {
                    t["columnDefinitions"] = json!([]);
                }
                self.headers_sent = true;
                json!({ "type": kind, "object": t }).to_string().into_bytes()
            }
        };
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, revision: i64) -> Bytes {
        let object = json!({
            "kind": self.res.info.kind,
            "apiVersion": self.res.info.api_version(),
            "metadata": { "resourceVersion": revision.to_string(), "annotations": {"k8s.io/initial-events-end": "true"} }
        });
        Bytes::from(format!("{}\n", json!({ "type": "BOOKMARK", "object": object })))
    }
}

fn error_event(err: &ApiError) -> Bytes {
    Bytes::from(format!(
        "{}\n",
        json!({ "type": "ERROR", "object": err.to_status() })
    ))
}

pub(crate) fn serve(
    state: Arc<AppState>,
    res: Arc<Resource>,
    namespace: Option<String>,
    params: ListParams,
    query: &HashMap<String, String>,
    format: Format,
) -> ApiResult {
    let from = match params.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let bookmarks = matches!(
        query.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let mut encoder = Encoder {
        res: res.clone(),
        format,
        headers_sent: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);

    let subscription = res.cache.subscribe(from);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut sub = match subscription {
            Ok(sub) => sub,
            Err(SubscribeError::TooOld(requested, oldest)) => {
                let err = ApiError::gone(format!("too old resource version: {requested} ({oldest})"));
                let _ = tx.send(error_event(&err)).await;
                return;
            }
        };
        let watched_namespace = namespace.as_deref().filter(|_| res.info.namespaced);
        let in_scope =
            |obj: &CachedObject| in_namespace(obj, watched_namespace) && params.matches(&obj.value);
        for obj in &sub.initial {
            let obj = encoder.res.present(obj.clone());
            if in_scope(&obj) && tx.send(encoder.event("ADDED", &obj)).await.is_err() {
                return;
            }
        }
        let mut last_revision = sub.revision;
        for event in &sub.history {
            if let Some(line) = translate(&mut encoder, event, &in_scope)
                && tx.send(line).await.is_err()
            {
                return;
            }
            last_revision = event.revision;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmark_timer =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.wait() => return,
                _ = tx.closed() => return,
                _ = bookmark_timer.tick(), if bookmarks => {
                    let revision = last_revision.max(res.cache.revision());
                    if tx.send(encoder.bookmark(revision)).await.is_err() { return; }
                }
                received = sub.live.recv() => match received {
                    Ok(Fanout::Event(event)) => {
                        // A client may watch from a revision the cache has not reached yet.
                        if from.is_some_and(|rv| event.revision <= rv) {
                            continue;
                        }
                        last_revision = event.revision;
                        if let Some(line) = translate(&mut encoder, &event, &in_scope)
                            && tx.send(line).await.is_err()
                        {
                            return;
                        }
                    }
                    // A watcher that fell behind, or a rebuilt cache: end the stream so the
                    // client re-watches (and relists if its revision is gone).
                    Ok(Fanout::Reset) | Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                }
            }
        }
    });

    // Events already queued go out together: one chunk, one TLS record, one write.
    let batched = tokio_stream::wrappers::ReceiverStream::new(rx)
        .ready_chunks(64)
        .map(|lines| {
            let mut chunk = bytes::BytesMut::with_capacity(lines.iter().map(Bytes::len).sum());
            for line in lines {
                chunk.extend_from_slice(&line);
            }
            Ok::<_, std::convert::Infallible>(chunk.freeze())
        });
    let body = Body::from_stream(batched);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(response)
}

/// Whether an object is in the watched namespace (every object of the resource is in the cache's
/// prefix already, so only the namespace narrows it).
fn in_namespace(obj: &CachedObject, namespace: Option<&str>) -> bool {
    namespace.is_none_or(|ns| {
        obj.value
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            == Some(ns)
    })
}

/// Maps a cache event to what this watcher sees, given its selectors.
fn translate(
    encoder: &mut Encoder,
    event: &crate::registry::watch_cache::CacheEvent,
    in_scope: &impl Fn(&CachedObject) -> bool,
) -> Option<Bytes> {
    let object = encoder.res.present(event.object.clone());
    let now_in = in_scope(&object);
    let was_in = event
        .prev
        .as_ref()
        .is_some_and(|p| in_scope(&encoder.res.present(p.clone())));
    let kind = match event.kind {
        EventType::Added if now_in => "ADDED",
        EventType::Modified if now_in && was_in => "MODIFIED",
        EventType::Modified if now_in => "ADDED",
        EventType::Modified if was_in => "DELETED",
        EventType::Deleted if now_in || was_in => "DELETED",
        _ => return None,
    };
    Some(encoder.event(kind, &object))
}
