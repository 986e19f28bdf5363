//! WATCH: a chunked stream of `{"type":...,"object":...}` lines served from the watch cache,
//! with initial events, selector transitions (an object leaving a selector is DELETED for that
//! watcher), bookmarks, `timeoutSeconds`, and 410 for a too-old resourceVersion.
//!
//! Fan-out cost per watcher is kept to filtering and one copy: each cached object carries its JSON
//! encoding (shared `Bytes`), and a JSON event line is that encoding between a static prefix and
//! suffix, written straight into the chunk the connection sends. The response body reads the
//! cache's broadcast itself (no task or channel per watcher) and gathers every event already
//! waiting into one chunk.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use rudder_api::status::ApiError;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::AppState;
use super::response::{ApiResult, Format};
use crate::registry::watch_cache::{
    CacheEvent, CachedObject, EventType, Fanout, SubscribeError, Subscription,
};
use crate::registry::{ListParams, Resource};

/// Upstream's default bookmark interval is about a minute; kubectl does not need them sooner.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);
/// Without `timeoutSeconds`, upstream picks a random timeout of 30–60 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// A chunk stops growing past this size (the next one carries the rest).
const CHUNK_BYTES: usize = 64 * 1024;
/// A busy watch sends at most one chunk per this interval: events arriving within it go out
/// together. Each chunk costs a task wake-up, an HTTP/2 frame, allocations and its share of a
/// socket write per watcher, so under a high event rate (1,000 watchers of a resource written
/// 500 times a second) batching is what keeps delivery ahead of the writes; a quiet watch still
/// gets its first event at once.
const COALESCE: Duration = Duration::from_millis(10);

struct Encoder {
    res: Arc<Resource>,
    format: Format,
    headers_sent: bool,
}

fn json_prefix(kind: &str) -> &'static [u8] {
    match kind {
        "ADDED" => br#"{"type":"ADDED","object":"#,
        "MODIFIED" => br#"{"type":"MODIFIED","object":"#,
        _ => br#"{"type":"DELETED","object":"#,
    }
}

impl Encoder {
    /// Appends one event line to `out`.
    fn event(&mut self, kind: &str, obj: &CachedObject, out: &mut BytesMut) {
        match self.format {
            Format::Json => {
                let prefix = json_prefix(kind);
                // One allocation for the line (growing the chunk piecemeal reallocated it three
                // times per event, a twentieth of the fan-out's CPU).
                out.reserve(prefix.len() + obj.json.len() + 2);
                out.extend_from_slice(prefix);
                out.extend_from_slice(&obj.json);
                out.extend_from_slice(b"}\n");
            }
            Format::Metadata => {
                let object = rudder_api::table::partial_object_metadata(&obj.value());
                out.extend_from_slice(json!({ "type": kind, "object": object }).to_string().as_bytes());
                out.extend_from_slice(b"\n");
            }
            Format::Table(include) => {
                let meta = json!({ "resourceVersion": obj.revision.to_string() });
                let mut t = self.res.table(std::slice::from_ref(&obj.value()), include, &meta);
                // Upstream sends column definitions with the first event only.
                if self.headers_sent {
                    t["columnDefinitions"] = json!([]);
                }
                self.headers_sent = true;
                out.extend_from_slice(json!({ "type": kind, "object": t }).to_string().as_bytes());
                out.extend_from_slice(b"\n");
            }
        }
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

/// Events a watcher has yet to send before following the live stream.
enum Backlog {
    Objects(std::vec::IntoIter<Arc<CachedObject>>),
    Events(std::vec::IntoIter<Arc<CacheEvent>>),
}

/// One watcher: its position in the cache's stream and what it selects.
struct Watcher {
    encoder: Encoder,
    params: ListParams,
    namespace: Option<String>,
    /// The client's resourceVersion, if it gave one.
    from: Option<i64>,
    backlog: VecDeque<Backlog>,
    live: tokio::sync::broadcast::Receiver<Fanout>,
    last_revision: i64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    bookmarks: Option<tokio::time::Interval>,
    /// Set once the stream must end after what has been gathered.
    done: bool,
    /// When the last chunk of live events went out.
    last_sent: Option<tokio::time::Instant>,
}

impl Watcher {
    fn in_scope(&self, obj: &CachedObject) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| obj.namespace() == Some(ns));
        ns_ok && self.params.matches_object(obj)
    }

    /// Appends what this watcher sees of a cache event, given its selectors.
    fn translate(&mut self, event: &CacheEvent, out: &mut BytesMut) {
        let object = self.encoder.res.present(event.object.clone());
        let now_in = self.in_scope(&object);
        let was_in = event
            .prev
            .as_ref()
            .is_some_and(|p| self.in_scope(&self.encoder.res.present(p.clone())));
        let kind = match event.kind {
            EventType::Added if now_in => "ADDED",
            EventType::Modified if now_in && was_in => "MODIFIED",
            EventType::Modified if now_in => "ADDED",
            EventType::Modified if was_in => "DELETED",
            EventType::Deleted if now_in || was_in => "DELETED",
            _ => return,
        };
        self.encoder.event(kind, &object, out);
    }

    /// Fills `out` from the initial objects and past events; false once they are exhausted.
    fn drain_backlog(&mut self, out: &mut BytesMut) -> bool {
        while out.len() < CHUNK_BYTES {
            let Some(front) = self.backlog.front_mut() else {
                return false;
            };
            match front {
                Backlog::Objects(objects) => match objects.next() {
                    Some(obj) => {
                        let obj = self.encoder.res.present(obj);
                        if self.in_scope(&obj) {
                            self.encoder.event("ADDED", &obj, out);
                        }
                    }
                    None => {
                        self.backlog.pop_front();
                    }
                },
                Backlog::Events(events) => match events.next() {
                    Some(event) => {
                        self.last_revision = event.revision;
                        self.translate(&event, out);
                    }
                    None => {
                        self.backlog.pop_front();
                    }
                },
            }
        }
        true
    }

    /// Adds one live fan-out item; false when the stream must end.
    fn take_live(&mut self, item: Fanout, out: &mut BytesMut) -> bool {
        match item {
            Fanout::Event(event) => {
                if event.lags(&self.encoder.res.cache) {
                    tracing::debug!(
                        resource = self.encoder.res.info.plural,
                        "watch: slow watcher cut off"
                    );
                    return false;
                }
                // A client may watch from a revision the cache has not reached yet.
                if self.from.is_some_and(|rv| event.revision <= rv) {
                    return true;
                }
                self.last_revision = event.revision;
                self.translate(&event, out);
                true
            }
            Fanout::Reset => false,
        }
    }

    /// The next chunk of the response body, or `None` at its end.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::new();
        while !self.done {
            if !self.backlog.is_empty() {
                if self.drain_backlog(&mut out) || !out.is_empty() {
                    return Some(out.freeze());
                }
                continue;
            }
            let tick = async {
                match self.bookmarks.as_mut() {
                    Some(timer) => {
                        timer.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let received = tokio::select! {
                _ = &mut self.deadline => return None,
                _ = &mut self.shutdown => return None,
                _ = tick => None,
                received = self.live.recv() => Some(received),
            };
            let Some(received) = received else {
                let revision = self.last_revision.max(self.encoder.res.cache.revision());
                return Some(self.encoder.bookmark(revision));
            };
            if let Ok(Fanout::Event(event)) = &received {
                // Room for this event and the ones already queued behind it (about as large).
                let waiting = self.live.len().min(CHUNK_BYTES / 256);
                let each = event.object.json.len() + 32;
                out.reserve((each * (waiting + 1)).min(CHUNK_BYTES + each));
            }
            match received {
                Ok(item) => self.done = !self.take_live(item, &mut out),
                // A watcher that fell behind, or a rebuilt cache: end the stream so the client
                // re-watches (and relists if its revision is gone).
                Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
            }
            // A busy stream waits out the rest of its interval so that what arrives meanwhile
            // shares this chunk.
            if let Some(last) = self.last_sent.filter(|_| !self.done && !out.is_empty()) {
                let until = last + COALESCE;
                if until > tokio::time::Instant::now() {
                    tokio::select! {
                        _ = &mut self.deadline => return None,
                        _ = &mut self.shutdown => return None,
                        _ = tokio::time::sleep_until(until) => {}
                    }
                }
            }
            // Everything already waiting goes out in the same chunk.
            while !self.done && out.len() < CHUNK_BYTES {
                match self.live.try_recv() {
                    Ok(item) => self.done = !self.take_live(item, &mut out),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => self.done = true,
                }
            }
            if !out.is_empty() {
                self.last_sent = Some(tokio::time::Instant::now());
                return Some(out.freeze());
            }
        }
        None
    }
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
    let body = match res.cache.subscribe(from) {
        Err(SubscribeError::TooOld(requested, oldest)) => {
            let err = ApiError::gone(format!("too old resource version: {requested} ({oldest})"));
            Body::from(error_event(&err))
        }
        Ok(sub) => {
            let Subscription {
                initial,
                history,
                live,
                revision,
            } = sub;
            let namespace = namespace.filter(|_| res.info.namespaced);
            let shutdown = state.shutdown.clone();
            let watcher = Watcher {
                encoder: Encoder {
                    res,
                    format,
                    headers_sent: false,
                },
                params,
                namespace,
                from,
                backlog: VecDeque::from([
                    Backlog::Objects(initial.into_iter()),
                    Backlog::Events(history.into_iter()),
                ]),
                live,
                last_revision: revision,
                deadline: Box::pin(tokio::time::sleep(timeout)),
                shutdown: Box::pin(async move { shutdown.wait().await }),
                bookmarks: bookmarks.then(|| {
                    tokio::time::interval_at(
                        tokio::time::Instant::now() + BOOKMARK_INTERVAL,
                        BOOKMARK_INTERVAL,
                    )
                }),
                done: false,
                last_sent: None,
            };
            let stream = futures::stream::unfold(watcher, |mut watcher| async move {
                let chunk = watcher.next_chunk().await?;
                Some((Ok::<_, std::convert::Infallible>(chunk), watcher))
            });
            Body::from_stream(stream)
        }
    };
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
