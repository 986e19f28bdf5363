//! The embedded backend: the default store on one machine.
//!
//! Data lives in memory as a multi-version index (like etcd's in-memory index) and on disk as a
//! checksummed write-ahead log that is replayed on open and rewritten after compaction. All
//! writes go through one writer thread that group-commits them: each fsync covers every write
//! queued meanwhile. See `docs/adr/0001-embedded-store.md` for why.

mod log;
mod state;
mod watch;
mod writer;

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::oneshot;

use self::log::Record;
use self::state::{Change, State};
use self::writer::{Request, Writer};
use crate::{KeyValue, ListOptions, ListPage, Result, Revision, Store, StoreError, WatchStream};

const LOG_FILE: &str = "rudder.log";
const LOG_TMP: &str = "rudder.log.tmp";
const LOCK_FILE: &str = "LOCK";

/// Tuning of the embedded store. The defaults suit a single-machine cluster.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// History is compacted only below both this many revisions back...
    pub retention_revisions: i64,
    /// ...and this age.
    pub retention_time: Duration,
    /// How often automatic compaction runs.
    pub compaction_interval: Duration,
    /// The log is rewritten after a compaction once it is larger than this and twice its size
    /// after the previous rewrite.
    pub rewrite_min_bytes: u64,
    /// Most writes that share one fsync.
    pub max_batch: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            retention_revisions: 1000,
            retention_time: Duration::from_secs(300),
            compaction_interval: Duration::from_secs(10),
            rewrite_min_bytes: 64 << 20,
            max_batch: 4096,
        }
    }
}

/// What readers, watchers and the writer share.
pub(crate) struct Shared {
    pub(crate) state: RwLock<State>,
    /// The newest committed revision; watchers wait on it.
    pub(crate) revisions: tokio::sync::watch::Receiver<Revision>,
}

/// The embedded store. Cheap to clone; the last clone dropped stops the writer thread.
#[derive(Clone, Debug)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// Held (with an exclusive lock) so that no second process opens the same directory.
    _lock: File,
    dir: PathBuf,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").field("dir", &self.dir).finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Why the embedded store could not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use data directory {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("data directory {0} is in use by another process")]
    Locked(PathBuf),
    #[error("log {path} is inconsistent at record {index}: {reason}")]
    Corrupt {
        path: PathBuf,
        index: usize,
        reason: String,
    },
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`, replaying its log. A torn tail left by a crash is
    /// cut off; it can only hold writes that were never acknowledged.
    pub fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<EmbeddedStore, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let io = |source| OpenError::Io {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(dir)),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let _ = std::fs::remove_file(dir.join(LOG_TMP));
        let path = dir.join(LOG_FILE);
        let data = match std::fs::read(&path) {
            Ok(data) => Bytes::from(data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Bytes::new(),
            Err(e) => return Err(io(e)),
        };
        let (records, intact) = log::decode_all(data.clone());
        let state = replay(&path, records)?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        if intact < data.len() {
            tracing::warn!(path = %path.display(), dropped = data.len() - intact, "embedded store: cut off a torn log tail");
            file.set_len(intact as u64)
                .and_then(|()| file.sync_all())
                .map_err(io)?;
        }
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io)?;
        file = reopen_append(&path, file).map_err(io)?;

        let (rev_tx, rev_rx) = tokio::sync::watch::channel(state.current());
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            revisions: rev_rx,
        });
        let writer = Writer {
            shared: shared.clone(),
            file,
            dir: dir.clone(),
            file_len: intact as u64,
            rewritten_len: intact as u64,
            revisions: rev_tx,
            options,
            commit_times: VecDeque::new(),
            broken: None,
        };
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("rudder-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                shared,
                requests: Some(tx),
                writer: Some(handle),
                _lock: lock,
                dir,
            }),
        })
    }

    async fn request<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let sender = self.inner.requests.as_ref().ok_or_else(closed)?;
        sender.send(make(reply)).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::unavailable("embedded store writer has stopped")
}

/// An append handle positioned after the (possibly just truncated) end of the log.
fn reopen_append(path: &Path, file: File) -> std::io::Result<File> {
    drop(file);
    OpenOptions::new().append(true).open(path)
}

fn replay(path: &Path, records: Vec<Record>) -> Result<State, OpenError> {
    let mut state = State::new();
    for (index, record) in records.into_iter().enumerate() {
        let corrupt = |reason: String| OpenError::Corrupt {
            path: path.to_path_buf(),
            index,
            reason,
        };
        match record {
            Record::Put {
                key,
                value,
                create_revision,
                revision,
            } => {
                expect_next(&state, revision).map_err(corrupt)?;
                state.apply(Change::Put {
                    key,
                    value,
                    create_revision,
                    revision,
                });
            }
            Record::Delete { key, revision } => {
                expect_next(&state, revision).map_err(corrupt)?;
                state.apply(Change::Delete { key, revision });
            }
            Record::Compact { revision } => state.compact(revision),
            Record::Base {
                key,
                value,
                create_revision,
                mod_revision,
            } => state.restore_base(key, value, create_revision, mod_revision),
            Record::Revision { revision } => state.restore_revision(revision),
        }
    }
    Ok(state)
}

fn expect_next(state: &State, revision: Revision) -> Result<(), String> {
    if revision == state.current() + 1 {
        Ok(())
    } else {
        Err(format!("revision {revision} follows {}", state.current()))
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        self.inner.shared.state.read().get(key, at)
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListPage> {
        self.inner.shared.state.read().list(prefix, &opts)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.request(|reply| Request::Create {
            key: key.to_string(),
            value,
            reply,
        })
        .await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.request(|reply| Request::Update {
            key: key.to_string(),
            value,
            expected,
            reply,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        self.request(|reply| Request::Delete {
            key: key.to_string(),
            expected,
            reply,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        watch::watch(self.inner.shared.clone(), prefix.to_string(), after)
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.shared.state.read().current())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.request(|reply| Request::Compact { revision, reply }).await
    }
}
