//! The watch cache of one resource: one store watch fans out to every API watcher, and the
//! current objects are kept for `resourceVersion=0` lists and for initial watch events.
//!
//! Objects are decoded and re-encoded (with `metadata.resourceVersion` set) once per change here,
//! not once per watcher. Watchers read from a bounded broadcast; one that lags behind it is cut
//! off (its client re-watches) instead of buffering without bound.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::RwLock;
use rudder_store::{KeyValue, ListOptions, Revision, Store, StoreError, WatchEvent};
use serde_json::Value;
use tokio::sync::broadcast;

use super::object;

/// Events kept for watchers that start from a past revision.
const HISTORY: usize = 10_000;
/// Events a watcher may fall behind the live stream before it is cut off.
const FANOUT_BUFFER: usize = 4096;

/// A watcher this many bytes of encoded events behind the cache's stream is cut off.
const MAX_LAG_BYTES: u64 = 8 << 20;

/// An object as watchers and lists see it: its JSON encoding (what responses send) and the
/// namespace; the decoded form is produced on demand, because keeping it for every object of a
/// large cluster costs several times the encoding's memory.
#[derive(Debug)]
pub(crate) struct CachedObject {
    pub(crate) json: Bytes,
    pub(crate) revision: Revision,
    namespace: Option<Box<str>>,
}

impl CachedObject {
    pub(crate) fn new(value: Value, json: Bytes, revision: Revision) -> Arc<CachedObject> {
        let namespace = object::namespace(&value).map(Box::from);
        drop(value);
        Arc::new(CachedObject {
            json,
            revision,
            namespace,
        })
    }

    /// The object, decoded from its encoding (`Null` if that were ever undecodable, which it is
    /// not: it was encoded from a `Value`).
    pub(crate) fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    pub(crate) fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    pub(crate) fn from_kv(kv: &KeyValue) -> Option<Arc<CachedObject>> {
        decode(&kv.value, kv.mod_revision)
    }
}

impl CachedObject {
    /// An object from an encoding that already carries its resource version.
    fn stamped(stamped: super::stamp::Stamped, revision: Revision) -> Arc<CachedObject> {
        Arc::new(CachedObject {
            json: stamped.json,
            revision,
            namespace: stamped.namespace,
        })
    }

    /// An object from bytes this process just encoded from a `Value` (so known to be valid
    /// JSON), stamped with `revision`.
    pub(crate) fn from_encoded(bytes: &[u8], revision: Revision) -> Option<Arc<CachedObject>> {
        match super::stamp::stamp_valid(bytes, revision) {
            Some(stamped) => Some(CachedObject::stamped(stamped, revision)),
            None => decode_slow(bytes, revision),
        }
    }
}

/// Decodes a stored object and stamps its resource version.
pub(crate) fn decode(bytes: &[u8], revision: Revision) -> Option<Arc<CachedObject>> {
    match super::stamp::stamp(bytes, revision) {
        Some(stamped) => Some(CachedObject::stamped(stamped, revision)),
        None => decode_slow(bytes, revision),
    }
}

/// [`decode`] through a `Value`, for documents the splice does not handle.
fn decode_slow(bytes: &[u8], revision: Revision) -> Option<Arc<CachedObject>> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    object::set_resource_version(&mut value, revision);
    let json = Bytes::from(serde_json::to_vec(&value).ok()?);
    Some(CachedObject::new(value, json, revision))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

#[derive(Debug)]
pub(crate) struct CacheEvent {
    pub(crate) kind: EventType,
    /// The new object, or for a deletion the last state (with the deletion's revision).
    pub(crate) object: Arc<CachedObject>,
    pub(crate) prev: Option<Arc<CachedObject>>,
    pub(crate) revision: Revision,
    /// Encoded bytes of the cache's stream up to and including this event.
    offset: u64,
}

impl CacheEvent {
    /// Whether a watcher at this event is so far behind the stream that it must be cut off.
    pub(crate) fn lags(&self, cache: &WatchCache) -> bool {
        cache
            .stream_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(self.offset)
            > MAX_LAG_BYTES
    }
}

/// What a live watcher receives.
#[derive(Debug, Clone)]
pub(crate) enum Fanout {
    Event(Arc<CacheEvent>),
    /// The cache was rebuilt (its store watch broke); watchers must end.
    Reset,
}

#[derive(Default)]
struct CacheState {
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Every change after this revision is in `history` (or the history was trimmed, see
    /// `oldest`).
    revision: Revision,
    /// Watches from a revision below this get 410 Gone.
    oldest: Revision,
}

pub(crate) struct WatchCache {
    prefix: String,
    state: RwLock<CacheState>,
    fanout: broadcast::Sender<Fanout>,
    /// Encoded bytes of every event so far (see [`CacheEvent::lags`]).
    stream_bytes: AtomicU64,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A consistent view for one new watcher: past events or current objects, plus a receiver that
/// continues exactly where they end.
pub(crate) struct Subscription {
    pub(crate) initial: Vec<Arc<CachedObject>>,
    pub(crate) history: Vec<Arc<CacheEvent>>,
    pub(crate) live: broadcast::Receiver<Fanout>,
    pub(crate) revision: Revision,
}

/// Why a watch could not start.
#[derive(Debug)]
pub(crate) enum SubscribeError {
    /// The requested revision is older than the cache keeps: `(requested, oldest)`.
    TooOld(Revision, Revision),
}

impl WatchCache {
    /// Creates the cache and starts following `prefix` in `store`.
    pub(crate) async fn start(store: Arc<dyn Store>, prefix: String) -> Result<Arc<WatchCache>, StoreError> {
        let (fanout, _) = broadcast::channel(FANOUT_BUFFER);
        let cache = Arc::new(WatchCache {
            prefix,
            state: RwLock::new(CacheState::default()),
            fanout,
            stream_bytes: AtomicU64::new(0),
        });
        let stream = cache.load(&*store).await?;
        tokio::spawn(follow(Arc::downgrade(&cache), store, stream));
        Ok(cache)
    }

    /// Lists everything under the prefix into the cache and opens the store watch after it.
    async fn load(&self, store: &dyn Store) -> Result<rudder_store::WatchStream, StoreError> {
        let mut objects = BTreeMap::new();
        let mut opts = ListOptions::default();
        let revision = loop {
            let page = store.list(&self.prefix, opts.clone()).await?;
            for kv in &page.items {
                if let Some(obj) = CachedObject::from_kv(kv) {
                    objects.insert(kv.key.clone(), obj);
                }
            }
            match page.next_key {
                Some(next) => {
                    opts = ListOptions {
                        start_key: Some(next),
                        at: Some(page.revision),
                        limit: Some(1000),
                    }
                }
                None => break page.revision,
            }
        };
        let stream = store.watch(&self.prefix, revision).await?;
        let mut state = self.state.write();
        *state = CacheState {
            objects,
            history: VecDeque::new(),
            revision,
            oldest: revision,
        };
        drop(state);
        Ok(stream)
    }

    fn apply(&self, event: WatchEvent) {
        let revision = event.revision();
        let mut state = self.state.write();
        let cache_event = match event {
            WatchEvent::Put { kv, .. } => {
                let Some(obj) = CachedObject::from_kv(&kv) else {
                    tracing::warn!(key = %kv.key, "watch cache: undecodable object skipped");
                    state.revision = revision;
                    return;
                };
                let prev = state.objects.insert(kv.key, obj.clone());
                let kind = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                CacheEvent {
                    kind,
                    object: obj,
                    prev,
                    revision,
                    offset: 0,
                }
            }
            WatchEvent::Delete { key, prev, .. } => {
                let cached = state.objects.remove(&key);
                // Upstream sends a deleted object stamped with the deletion's revision.
                let last = match (&cached, &prev) {
                    (Some(o), _) => CachedObject::from_encoded(&o.json, revision),
                    (None, Some(kv)) => decode(&kv.value, revision),
                    (None, None) => None,
                };
                let Some(obj) = last else {
                    state.revision = revision;
                    return;
                };
                CacheEvent {
                    kind: EventType::Deleted,
                    object: obj,
                    prev: cached,
                    revision,
                    offset: 0,
                }
            }
        };
        let size = cache_event.object.json.len() as u64;
        let offset = self.stream_bytes.fetch_add(size, Ordering::Relaxed) + size;
        let cache_event = Arc::new(CacheEvent {
            offset,
            ..cache_event
        });
        state.history.push_back(cache_event.clone());
        if state.history.len() > HISTORY
            && let Some(dropped) = state.history.pop_front()
        {
            state.oldest = dropped.revision;
        }
        state.revision = revision;
        // Sent under the lock so that a subscriber sees each event either in its snapshot or live.
        let _ = self.fanout.send(Fanout::Event(cache_event));
    }

    /// Current objects, in key order, with the revision they reflect.
    pub(crate) fn snapshot(&self) -> (Vec<Arc<CachedObject>>, Revision) {
        let state = self.state.read();
        (state.objects.values().cloned().collect(), state.revision)
    }

    /// Current objects under a key prefix (one namespace).
    pub(crate) fn snapshot_prefix(&self, prefix: &str) -> (Vec<Arc<CachedObject>>, Revision) {
        let state = self.state.read();
        let objects = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (objects, state.revision)
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.state.read().objects.get(key).cloned()
    }

    pub(crate) fn revision(&self) -> Revision {
        self.state.read().revision
    }

    /// Starts a watcher. `from: None` means "current state, then changes" (initial events are the
    /// current objects); `Some(rv)` means every change after `rv`.
    pub(crate) fn subscribe(&self, from: Option<Revision>) -> Result<Subscription, SubscribeError> {
        let state = self.state.read();
        let live = self.fanout.subscribe();
        match from {
            None => Ok(Subscription {
                initial: state.objects.values().cloned().collect(),
                history: Vec::new(),
                live,
                revision: state.revision,
            }),
            Some(rv) if rv < state.oldest => Err(SubscribeError::TooOld(rv, state.oldest)),
            Some(rv) => Ok(Subscription {
                initial: Vec::new(),
                history: state
                    .history
                    .iter()
                    .filter(|e| e.revision > rv)
                    .cloned()
                    .collect(),
                live,
                revision: state.revision.max(rv),
            }),
        }
    }
}

/// Follows the store watch; on a break (for example after falling behind compaction) reloads the
/// cache and tells current watchers to restart.
async fn follow(
    cache: std::sync::Weak<WatchCache>,
    store: Arc<dyn Store>,
    mut stream: rudder_store::WatchStream,
) {
    loop {
        while let Some(item) = stream.next().await {
            let Some(cache) = cache.upgrade() else { return };
            match item {
                Ok(event) => cache.apply(event),
                Err(err) => {
                    tracing::warn!(prefix = %cache.prefix, error = %err, "watch cache: store watch broke");
                    break;
                }
            }
        }
        let backoff = std::time::Duration::from_millis(200);
        loop {
            let Some(cache) = cache.upgrade() else { return };
            match cache.load(&*store).await {
                Ok(next) => {
                    let _ = cache.fanout.send(Fanout::Reset);
                    stream = next;
                    break;
                }
                Err(err) => {
                    tracing::warn!(prefix = %cache.prefix, error = %err, "watch cache: reload failed");
                    drop(cache);
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }
}
