//! The etcd backend: the storage contract over etcd's v3 API, as upstream Kubernetes uses it.
//!
//! Every key is stored under a prefix (`/registry` by default, as upstream does) that is prepended
//! on the way in and stripped on the way out. Writes are single etcd transactions that compare the
//! key's revisions and, when the comparison fails, read the key back in the same transaction, so a
//! lost compare-and-swap costs one round trip and still returns the current value.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, EventType, GetOptions, GetResponse,
    KvClient, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions,
};
use futures::StreamExt;
use tracing::debug;

use crate::etcd_endpoints::{Endpoints, Outcome, Retry};
use crate::{
    KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchEvent, WatchStream, prefix_end,
};

mod options;

pub use options::{EtcdOptions, EtcdTls};
use options::{check_schemes, tls_options};

/// The prefix upstream Kubernetes stores its objects under.
pub const DEFAULT_PREFIX: &str = "/registry";

/// The largest response we accept. gRPC's default (4 MiB) is far below a full listing of a large
/// cluster; etcd itself sends up to 2 GiB, and upstream Kubernetes accepts that much too.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// How long to wait for etcd to name the compacted revision after it refused a read as compacted.
const COMPACTED_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The [`Store`] over etcd.
pub struct EtcdStore {
    endpoints: Endpoints,
    keys: Arc<Keys>,
    request_timeout: Duration,
    /// The highest revision we know etcd has compacted to: a fallback for the `compacted` field of
    /// [`StoreError::Compacted`] when etcd does not tell.
    compacted_hint: AtomicI64,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("prefix", &self.keys.prefix)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Maps the contract's keys to etcd keys and back.
#[derive(Debug)]
struct Keys {
    /// Empty, or starts with `/` and has no trailing `/`.
    prefix: String,
}

impl Keys {
    /// Under a non-empty prefix, keys must be paths (start with `/`): `/registry` + `foo` would
    /// land in another prefix's key space (`/registryfoo`).
    fn check(&self, key: &str) -> Result<()> {
        if !self.prefix.is_empty() && !key.starts_with('/') {
            return Err(StoreError::InvalidArgument(format!(
                "key {key:?} does not start with '/'"
            )));
        }
        Ok(())
    }

    /// The etcd key of `key`.
    fn full(&self, key: &str) -> Result<Vec<u8>> {
        self.check(key)?;
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(self.prefix.as_bytes());
        full.extend_from_slice(key.as_bytes());
        Ok(full)
    }

    /// The etcd range `[start, end)` of every key under `prefix`. The empty prefix means every key
    /// under the store's prefix, which is the directory `<prefix>/`, not every key that merely
    /// starts with the same bytes.
    fn range(&self, prefix: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let full = if prefix.is_empty() && !self.prefix.is_empty() {
            format!("{}/", self.prefix)
        } else {
            self.check(prefix)?;
            format!("{}{prefix}", self.prefix)
        };
        let end = prefix_end(&full);
        // etcd refuses an empty key; `\0` is the smallest key it accepts.
        let start = if full.is_empty() {
            vec![0]
        } else {
            full.into_bytes()
        };
        Ok((start, end))
    }

    /// Some key, for requests that only want a response header.
    fn any(&self) -> Vec<u8> {
        if self.prefix.is_empty() {
            vec![0]
        } else {
            self.prefix.clone().into_bytes()
        }
    }

    /// The contract's key of an etcd key.
    fn strip(&self, full: &[u8]) -> Result<String> {
        let rest = full.strip_prefix(self.prefix.as_bytes()).ok_or_else(|| {
            bad_response(format!(
                "etcd returned key {:?} outside prefix {:?}",
                String::from_utf8_lossy(full),
                self.prefix
            ))
        })?;
        String::from_utf8(rest.to_vec()).map_err(|_| {
            bad_response(format!(
                "etcd returned a key that is not UTF-8: {:?}",
                String::from_utf8_lossy(full)
            ))
        })
    }

    fn kv(&self, kv: &etcd_client::KeyValue) -> Result<KeyValue> {
        Ok(KeyValue {
            key: self.strip(kv.key())?,
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
        })
    }

    fn event(&self, event: &etcd_client::Event) -> Result<WatchEvent> {
        let kv = event
            .kv()
            .ok_or_else(|| bad_response("etcd sent a watch event without a key"))?;
        let prev = event.prev_kv().map(|prev| self.kv(prev)).transpose()?;
        Ok(match event.event_type() {
            EventType::Put => WatchEvent::Put {
                kv: self.kv(kv)?,
                prev,
            },
            // The key of a delete event carries the deletion's revision as its mod revision.
            EventType::Delete => WatchEvent::Delete {
                key: self.strip(kv.key())?,
                revision: kv.mod_revision(),
                prev,
            },
        })
    }
}

/// A response etcd should never send: treated as a broken backend.
fn bad_response(msg: impl Into<String>) -> StoreError {
    StoreError::unavailable(msg.into())
}

/// What went wrong with one etcd request.
#[derive(Debug)]
enum Failure {
    /// etcd: "mvcc: required revision has been compacted".
    Compacted,
    /// etcd: "mvcc: required revision is a future revision".
    FutureRevision,
    Other(StoreError),
}

/// gRPC status codes (numeric, as `tonic::Code` converts to `i32`).
const GRPC_INVALID_ARGUMENT: i32 = 3;

fn classify(err: etcd_client::Error) -> Failure {
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message();
            if message.contains("required revision has been compacted") {
                Failure::Compacted
            } else if message.contains("required revision is a future revision") {
                Failure::FutureRevision
            } else if i32::from(status.code()) == GRPC_INVALID_ARGUMENT {
                Failure::Other(StoreError::InvalidArgument(message.to_string()))
            } else {
                Failure::Other(StoreError::unavailable(etcd_client::Error::GRpcStatus(status)))
            }
        }
        etcd_client::Error::InvalidArgs(msg) => Failure::Other(StoreError::InvalidArgument(msg)),
        etcd_client::Error::InvalidUri(err) => Failure::Other(StoreError::InvalidArgument(err.to_string())),
        other => Failure::Other(StoreError::unavailable(other)),
    }
}

impl Failure {
    /// The error for a request that names no revision, where neither revision error can happen.
    fn plain(self, what: &str) -> StoreError {
        match self {
            Failure::Other(err) => err,
            Failure::Compacted | Failure::FutureRevision => bad_response(format!(
                "etcd reported a revision error for {what}, which names no revision"
            )),
        }
    }
}

fn kv_client(client: &Client) -> KvClient {
    client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES)
}

fn watch_client(client: &Client) -> WatchClient {
    client
        .watch_client()
        .max_decoding_message_size(MAX_RESPONSE_BYTES)
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| bad_response("etcd response without a header"))
}

fn check_revision(at: Option<Revision>) -> Result<()> {
    match at {
        Some(rev) if rev <= 0 => Err(StoreError::InvalidArgument(format!(
            "revision {rev} is not positive"
        ))),
        _ => Ok(()),
    }
}

impl EtcdStore {
    /// Connects to etcd and checks that it answers (within `connect_timeout + request_timeout`).
    pub async fn connect(options: EtcdOptions) -> Result<EtcdStore> {
        if options.endpoints.is_empty() {
            return Err(StoreError::InvalidArgument("no etcd endpoints given".into()));
        }
        let prefix = options.prefix.trim_end_matches('/').to_string();
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(StoreError::InvalidArgument(format!(
                "etcd key prefix {prefix:?} does not start with '/'"
            )));
        }
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            // etcd answers pings on a connection without streams with GOAWAY "too_many_pings".
            .with_keep_alive_while_idle(false);
        if let Some((interval, timeout)) = options.keep_alive {
            connect = connect.with_keep_alive(interval, timeout);
        }
        if let Some(tls) = &options.tls {
            connect = connect.with_tls(tls_options(tls)?);
        }
        check_schemes(&options.endpoints, options.tls.is_some())?;
        let deadline = options.connect_timeout + options.request_timeout;
        let endpoints =
            match tokio::time::timeout(deadline, Endpoints::connect(&options.endpoints, &connect)).await {
                Ok(Ok(endpoints)) => endpoints,
                Ok(Err(err)) => return Err(classify(err).plain("connect")),
                Err(_) => {
                    return Err(StoreError::unavailable(format!(
                        "connecting to etcd timed out after {deadline:?}"
                    )));
                }
            };
        let store = EtcdStore {
            endpoints,
            keys: Arc::new(Keys { prefix }),
            request_timeout: options.request_timeout,
            compacted_hint: AtomicI64::new(0),
        };
        let revision = store.current_revision().await?;
        debug!(endpoints = ?options.endpoints, prefix = %store.keys.prefix, revision, "connected to etcd");
        Ok(store)
    }

    /// The prefix every key is stored under (without a trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// Runs one etcd request under the request deadline on the pinned member; when the member
    /// fails, pins the next one and, if `retry` allows, sends the request there (each member at
    /// most once). `request` builds the request anew for each attempt.
    async fn call<T, F, Fut>(&self, what: &str, retry: Retry, request: F) -> std::result::Result<T, Failure>
    where
        F: Fn(&Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let mut failure = None;
        for _ in 0..self.endpoints.len() {
            let (index, endpoint, client) = self.endpoints.pinned();
            let outcome = match tokio::time::timeout(self.request_timeout, request(client)).await {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(err)) => {
                    debug!(what, endpoint, error = %err, "etcd request failed");
                    let outcome = Outcome::of(&err);
                    failure = Some(classify(err));
                    outcome
                }
                Err(_) => {
                    debug!(what, endpoint, timeout = ?self.request_timeout, "etcd request timed out");
                    failure = Some(Failure::Other(StoreError::unavailable(format!(
                        "etcd {what} at {endpoint} timed out after {:?}",
                        self.request_timeout
                    ))));
                    Outcome::Broken
                }
            };
            if outcome == Outcome::Answered {
                break;
            }
            self.endpoints.failed(index);
            if !outcome.retry(retry) {
                break;
            }
        }
        Err(failure.unwrap_or_else(|| Failure::Other(StoreError::unavailable("no etcd endpoints"))))
    }

    /// A range read; safe to send again to another member.
    async fn read(
        &self,
        what: &str,
        key: &[u8],
        options: GetOptions,
    ) -> std::result::Result<GetResponse, Failure> {
        self.call(what, Retry::Always, |client| {
            let mut kv = kv_client(client);
            let (key, options) = (key.to_vec(), options.clone());
            async move { kv.get(key, Some(options)).await }
        })
        .await
    }

    /// A conditional write: sent again to another member only if it never reached the first.
    async fn txn(&self, what: &str, txn: impl Fn() -> Txn) -> Result<TxnResponse> {
        self.call(what, Retry::IfUnsent, |client| {
            let mut kv = kv_client(client);
            let txn = txn();
            async move { kv.txn(txn).await }
        })
        .await
        .map_err(|f| f.plain(what))
    }

    /// The error for a read at `requested` that etcd refused with `failure`.
    async fn read_failure(&self, failure: Failure, requested: Revision, key: &[u8]) -> StoreError {
        match failure {
            Failure::Compacted => StoreError::Compacted {
                requested,
                compacted: self.compacted_revision(requested, key).await,
            },
            Failure::FutureRevision => match self.current_revision().await {
                Ok(current) => StoreError::FutureRevision { requested, current },
                Err(err) => err,
            },
            Failure::Other(err) => err,
        }
    }

    /// The revision etcd has compacted to, knowing that `requested` is below it. etcd 3.4 does not
    /// report it with a refused read, but a watch from `requested` is cancelled with it.
    async fn compacted_revision(&self, requested: Revision, key: &[u8]) -> Revision {
        let probe = async {
            let options = WatchOptions::new().with_start_revision(requested.max(1));
            let mut stream = watch_client(self.endpoints.pinned().2)
                .watch(key.to_vec(), Some(options))
                .await
                .ok()?;
            while let Ok(Some(response)) = stream.message().await {
                if response.compact_revision() > 0 {
                    return Some(response.compact_revision());
                }
                if response.canceled() || !response.events().is_empty() {
                    return None;
                }
            }
            None
        };
        let timeout = self.request_timeout.min(COMPACTED_PROBE_TIMEOUT);
        match tokio::time::timeout(timeout, probe).await {
            Ok(Some(compacted)) => {
                self.compacted_hint.fetch_max(compacted, Ordering::Relaxed);
                compacted
            }
            _ => self.compacted_hint.load(Ordering::Relaxed).max(requested + 1),
        }
    }

    /// Reads the key back after a transaction's comparison failed: the `else` branch's response.
    fn failed_read(&self, response: &TxnResponse) -> Result<Option<KeyValue>> {
        match response.op_responses().first() {
            Some(TxnOpResponse::Get(get)) => get.kvs().first().map(|kv| self.keys.kv(kv)).transpose(),
            _ => Err(bad_response(
                "etcd transaction without the read of its else branch",
            )),
        }
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        check_revision(at)?;
        debug!(key, ?at, "etcd get");
        let full = self.keys.full(key)?;
        let mut options = GetOptions::new();
        if let Some(rev) = at {
            options = options.with_revision(rev);
        }
        let response = match self.read("get", &full, options).await {
            Ok(response) => response,
            Err(failure) => return Err(self.read_failure(failure, at.unwrap_or_default(), &full).await),
        };
        response.kvs().first().map(|kv| self.keys.kv(kv)).transpose()
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListPage> {
        check_revision(opts.at)?;
        debug!(prefix, ?opts, "etcd list");
        let (first, end) = self.keys.range(prefix)?;
        let start = match &opts.start_key {
            Some(start) if !start.starts_with(prefix) => {
                return Err(StoreError::InvalidArgument(format!(
                    "start key {start:?} is not under the listed prefix {prefix:?}"
                )));
            }
            Some(start) if start.is_empty() => first,
            Some(start) => self.keys.full(start)?.max(first),
            None => first,
        };
        let mut options = GetOptions::new().with_range(end);
        if let Some(limit) = opts.limit.filter(|&limit| limit > 0) {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        if let Some(rev) = opts.at {
            options = options.with_revision(rev);
        }
        let response = match self.read("list", &start, options).await {
            Ok(response) => response,
            Err(failure) => {
                return Err(self
                    .read_failure(failure, opts.at.unwrap_or_default(), &start)
                    .await);
            }
        };
        let revision = match opts.at {
            Some(rev) => rev,
            None => header_revision(response.header())?,
        };
        let items = response
            .kvs()
            .iter()
            .map(|kv| self.keys.kv(kv))
            .collect::<Result<Vec<_>>>()?;
        let (next_key, remaining) = match items.last() {
            Some(last) if response.more() => {
                // etcd's count covers the whole requested range, from the start key on.
                let count = u64::try_from(response.count()).unwrap_or(0);
                (
                    Some(format!("{}\0", last.key)),
                    count.saturating_sub(items.len() as u64),
                )
            }
            _ => (None, 0),
        };
        Ok(ListPage {
            items,
            revision,
            next_key,
            remaining,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        debug!(key, len = value.len(), "etcd create");
        let full = self.keys.full(key)?;
        let txn = || {
            Txn::new()
                .when([Compare::create_revision(full.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(full.clone(), value.to_vec(), None)])
                .or_else([TxnOp::get(full.clone(), None)])
        };
        let response = self.txn("create", txn).await?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists { key: key.to_string() });
        }
        let revision = header_revision(response.header())?;
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        debug!(key, expected, len = value.len(), "etcd update");
        let full = self.keys.full(key)?;
        let txn = || {
            Txn::new()
                .when([
                    // An absent key has mod revision 0; it must not pass for `expected == 0`.
                    Compare::version(full.clone(), CompareOp::Greater, 0),
                    Compare::mod_revision(full.clone(), CompareOp::Equal, expected),
                ])
                .and_then([TxnOp::put(
                    full.clone(),
                    value.to_vec(),
                    Some(PutOptions::new().with_prev_key()),
                )])
                .or_else([TxnOp::get(full.clone(), None)])
        };
        let response = self.txn("update", txn).await?;
        if !response.succeeded() {
            return match self.failed_read(&response)? {
                None => Err(StoreError::NotFound { key: key.to_string() }),
                Some(current) => Err(StoreError::Conflict {
                    key: key.to_string(),
                    expected,
                    current: Some(Box::new(current)),
                }),
            };
        }
        let revision = header_revision(response.header())?;
        let create_revision = match response.op_responses().first() {
            Some(TxnOpResponse::Put(put)) => put.prev_key().map(|prev| prev.create_revision()),
            _ => None,
        }
        .ok_or_else(|| bad_response("etcd update without the previous value"))?;
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision,
            mod_revision: revision,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        debug!(key, ?expected, "etcd delete");
        let full = self.keys.full(key)?;
        let mut compares = vec![Compare::version(full.clone(), CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(full.clone(), CompareOp::Equal, expected));
        }
        let txn = || {
            Txn::new()
                .when(compares.clone())
                .and_then([TxnOp::delete(
                    full.clone(),
                    Some(etcd_client::DeleteOptions::new().with_prev_key()),
                )])
                .or_else([TxnOp::get(full.clone(), None)])
        };
        let response = self.txn("delete", txn).await?;
        if !response.succeeded() {
            return match self.failed_read(&response)? {
                None => Err(StoreError::NotFound { key: key.to_string() }),
                Some(current) => Err(StoreError::Conflict {
                    key: key.to_string(),
                    expected: expected.unwrap_or_default(),
                    current: Some(Box::new(current)),
                }),
            };
        }
        let revision = header_revision(response.header())?;
        let prev = match response.op_responses().first() {
            Some(TxnOpResponse::Delete(deleted)) => deleted
                .prev_kvs()
                .first()
                .map(|kv| self.keys.kv(kv))
                .transpose()?,
            _ => None,
        };
        match prev {
            Some(prev) => Ok((prev, revision)),
            None => Err(StoreError::NotFound { key: key.to_string() }),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        if after < 0 {
            return Err(StoreError::InvalidArgument(format!(
                "watch after negative revision {after}"
            )));
        }
        debug!(prefix, after, "etcd watch");
        let (start, end) = self.keys.range(prefix)?;
        let options = WatchOptions::new()
            .with_range(end)
            .with_start_revision(after + 1)
            .with_prev_key();
        // Wait until etcd confirms the watch, so a broken connection fails here (and the watch
        // moves to another member) rather than later.
        let open = |client: &Client| {
            let mut watch_client = watch_client(client);
            let (start, options) = (start.clone(), options.clone());
            async move {
                let mut stream = watch_client.watch(start, Some(options)).await?;
                let first = stream.message().await?;
                Ok((stream, first))
            }
        };
        let (stream, first) = self
            .call("watch", Retry::Always, open)
            .await
            .map_err(|f| f.plain("watch"))?;
        let mut state = WatchState {
            stream,
            keys: self.keys.clone(),
            last: after,
            pending: VecDeque::new(),
            done: false,
        };
        match first {
            None => {
                return Err(StoreError::unavailable(
                    "etcd closed the watch stream before confirming it",
                ));
            }
            Some(response) if response.canceled() || response.compact_revision() > 0 => {
                return Err(state.cancelled(&response));
            }
            // The confirmation normally carries no events; keep any it does.
            Some(response) => state.absorb(&response),
        }
        let events = futures::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(item) = state.pending.pop_front() {
                    return Some((item, state));
                }
                if state.done {
                    return None;
                }
                match state.stream.message().await {
                    Ok(Some(response)) => {
                        if response.canceled() || response.compact_revision() > 0 {
                            let err = state.cancelled(&response);
                            state.pending.push_back(Err(err));
                            state.done = true;
                        } else {
                            state.absorb(&response);
                        }
                    }
                    Ok(None) => {
                        state
                            .pending
                            .push_back(Err(StoreError::unavailable("etcd closed the watch stream")));
                        state.done = true;
                    }
                    Err(err) => {
                        state.pending.push_back(Err(classify(err).plain("watch")));
                        state.done = true;
                    }
                }
            }
        });
        Ok(events.boxed())
    }

    async fn current_revision(&self) -> Result<Revision> {
        let options = GetOptions::new().with_count_only();
        let response = self
            .read("revision", &self.keys.any(), options)
            .await
            .map_err(|f| f.plain("revision"))?;
        header_revision(response.header())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        debug!(revision, "etcd compact");
        if revision <= 0 {
            return Ok(());
        }
        // Compacting twice is harmless: the second answers "already compacted".
        let request = |client: &Client| {
            let mut kv = kv_client(client);
            async move {
                kv.compact(revision, Some(CompactionOptions::new().with_physical()))
                    .await
            }
        };
        match self.call("compact", Retry::Always, request).await {
            Ok(_) => {}
            // Already compacted at or past `revision`: nothing left to do.
            Err(Failure::Compacted) => {}
            Err(Failure::FutureRevision) => {
                let current = self.current_revision().await?;
                return Err(StoreError::FutureRevision {
                    requested: revision,
                    current,
                });
            }
            Err(Failure::Other(err)) => return Err(err),
        }
        self.compacted_hint.fetch_max(revision, Ordering::Relaxed);
        Ok(())
    }
}

/// The state of one watch stream: etcd's responses, split into events.
struct WatchState {
    stream: etcd_client::WatchStream,
    keys: Arc<Keys>,
    /// The revision of the last event handed out: where a resumed watch would start after.
    last: Revision,
    pending: VecDeque<Result<WatchEvent>>,
    done: bool,
}

impl WatchState {
    /// Queues the events of one response; a malformed event ends the stream after the good ones.
    fn absorb(&mut self, response: &etcd_client::WatchResponse) {
        for event in response.events() {
            match self.keys.event(event) {
                Ok(event) => {
                    self.last = event.revision();
                    self.pending.push_back(Ok(event));
                }
                Err(err) => {
                    self.pending.push_back(Err(err));
                    self.done = true;
                    return;
                }
            }
        }
    }

    /// The error for a watch etcd cancelled.
    fn cancelled(&self, response: &etcd_client::WatchResponse) -> StoreError {
        if response.compact_revision() > 0 {
            debug!(
                after = self.last,
                compacted = response.compact_revision(),
                "etcd watch compacted"
            );
            StoreError::Compacted {
                requested: self.last,
                compacted: response.compact_revision(),
            }
        } else {
            StoreError::unavailable(format!("etcd cancelled the watch: {}", response.cancel_reason()))
        }
    }
}
