//! The single writer thread. It takes every request queued since its last commit, decides them in
//! order against the index, appends their records to the log with one write and one fsync (group
//! commit), and only then publishes them to readers and watchers and answers the callers. A
//! caller therefore never sees a write that is not on disk.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use super::log::Record;
use super::state::{Change, State};
use super::{EmbeddedOptions, Shared};
use crate::{KeyValue, Result, Revision, StoreError, WatchEvent};

pub(crate) enum Request {
    Create {
        key: String,
        value: Bytes,
        reply: oneshot::Sender<Result<KeyValue>>,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
        reply: oneshot::Sender<Result<KeyValue>>,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
        reply: oneshot::Sender<Result<(KeyValue, Revision)>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// The answer owed to one request of a batch, sent once the batch is durable.
enum Pending {
    Put(oneshot::Sender<Result<KeyValue>>, Result<KeyValue>),
    Delete(
        oneshot::Sender<Result<(KeyValue, Revision)>>,
        Result<(KeyValue, Revision)>,
    ),
}

impl Pending {
    fn fail(self, err: impl Fn() -> StoreError) {
        // A caller that went away no longer needs the answer.
        let _ = match self {
            Pending::Put(reply, _) => reply.send(Err(err())).map_err(drop),
            Pending::Delete(reply, _) => reply.send(Err(err())).map_err(drop),
        };
    }

    fn send(self) {
        let _ = match self {
            Pending::Put(reply, result) => reply.send(result).map_err(drop),
            Pending::Delete(reply, result) => reply.send(result).map_err(drop),
        };
    }
}

pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) file: File,
    pub(crate) dir: PathBuf,
    pub(crate) file_len: u64,
    /// Size of the log right after its last rewrite; the next rewrite waits until it doubles.
    pub(crate) rewritten_len: u64,
    pub(crate) revisions: watch::Sender<Revision>,
    pub(crate) options: EmbeddedOptions,
    /// When each batch committed, for time-based history retention.
    pub(crate) commit_times: VecDeque<(Instant, Revision)>,
    /// Set when the log could not be restored to a known state after an I/O error.
    pub(crate) broken: Option<String>,
}

impl Writer {
    pub(crate) fn run(mut self, requests: Receiver<Request>) {
        let mut last_compaction_check = Instant::now();
        loop {
            let first = match requests.recv_timeout(self.options.compaction_interval) {
                Ok(request) => request,
                Err(RecvTimeoutError::Timeout) => {
                    self.auto_compact();
                    last_compaction_check = Instant::now();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            while batch.len() < self.options.max_batch {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.process(batch);
            if last_compaction_check.elapsed() >= self.options.compaction_interval {
                self.auto_compact();
                last_compaction_check = Instant::now();
            }
        }
    }

    /// Commits writes in order; a compaction request splits the batch so it sees every write
    /// queued before it.
    fn process(&mut self, batch: Vec<Request>) {
        let mut writes = Vec::new();
        for request in batch {
            match request {
                Request::Compact { revision, reply } => {
                    self.commit(std::mem::take(&mut writes));
                    let _ = reply.send(self.compact(revision));
                }
                write => writes.push(write),
            }
        }
        self.commit(writes);
    }

    fn commit(&mut self, writes: Vec<Request>) {
        if writes.is_empty() {
            return;
        }
        if let Some(reason) = &self.broken {
            let reason = reason.clone();
            for pending in self.decide(writes).1 {
                pending.fail(|| StoreError::unavailable(reason.clone()));
            }
            return;
        }
        let (changes, pending) = self.decide(writes);
        if !changes.is_empty() {
            let mut buf = Vec::with_capacity(changes.len() * 256);
            for change in &changes {
                record_of(change).encode_into(&mut buf);
            }
            if let Err(err) = self.append(&buf) {
                tracing::error!(error = %err, "embedded store: log append failed");
                for pending in pending {
                    pending.fail(|| StoreError::unavailable(format!("log append failed: {err}")));
                }
                return;
            }
            let mut state = self.shared.state.write();
            for change in changes {
                state.apply(change);
            }
            let current = state.current();
            drop(state);
            self.commit_times.push_back((Instant::now(), current));
            self.revisions.send_replace(current);
        }
        for pending in pending {
            pending.send();
        }
    }

    /// Decides each write against the index plus the writes before it in the batch.
    fn decide(&self, writes: Vec<Request>) -> (Vec<Change>, Vec<Pending>) {
        let state = self.shared.state.read();
        let mut overlay: HashMap<String, Option<KeyValue>> = HashMap::new();
        let mut next = state.current() + 1;
        let mut changes = Vec::new();
        let mut pending = Vec::new();
        let current_of = |overlay: &HashMap<String, Option<KeyValue>>, key: &str| match overlay.get(key) {
            Some(kv) => kv.clone(),
            None => state.latest(key),
        };
        for write in writes {
            match write {
                Request::Create { key, value, reply } => {
                    let result = match current_of(&overlay, &key) {
                        _ if key.is_empty() => Err(StoreError::InvalidArgument("empty key".into())),
                        Some(_) => Err(StoreError::AlreadyExists { key }),
                        None => Ok(put(&mut overlay, &mut changes, &mut next, key, value, None)),
                    };
                    pending.push(Pending::Put(reply, result));
                }
                Request::Update {
                    key,
                    value,
                    expected,
                    reply,
                } => {
                    let result = match current_of(&overlay, &key) {
                        None => Err(StoreError::NotFound { key }),
                        Some(kv) if kv.mod_revision != expected => Err(StoreError::Conflict {
                            key,
                            expected,
                            current: Some(Box::new(kv)),
                        }),
                        Some(kv) => Ok(put(&mut overlay, &mut changes, &mut next, key, value, Some(kv))),
                    };
                    pending.push(Pending::Put(reply, result));
                }
                Request::Delete { key, expected, reply } => {
                    let result = match current_of(&overlay, &key) {
                        None => Err(StoreError::NotFound { key }),
                        Some(kv) if expected.is_some_and(|e| e != kv.mod_revision) => {
                            Err(StoreError::Conflict {
                                key,
                                expected: expected.unwrap_or_default(),
                                current: Some(Box::new(kv)),
                            })
                        }
                        Some(kv) => {
                            let revision = next;
                            next += 1;
                            overlay.insert(key.clone(), None);
                            changes.push(Change::Delete { key, revision });
                            Ok((kv, revision))
                        }
                    };
                    pending.push(Pending::Delete(reply, result));
                }
                Request::Compact { .. } => unreachable!("compactions are split out of write batches"),
            }
        }
        (changes, pending)
    }

    /// Appends `buf` to the log and makes it durable; on failure cuts the log back to its last
    /// good length so a later append does not land behind garbage.
    fn append(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let result = self.file.write_all(buf).and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.file_len += buf.len() as u64;
                Ok(())
            }
            Err(err) => {
                if let Err(cut) = self
                    .file
                    .set_len(self.file_len)
                    .and_then(|()| self.file.sync_data())
                {
                    self.broken = Some(format!("log could not be repaired after a failed append: {cut}"));
                }
                Err(err)
            }
        }
    }

    fn compact(&mut self, revision: Revision) -> Result<()> {
        let (current, compacted) = {
            let state = self.shared.state.read();
            (state.current(), state.compacted())
        };
        if revision > current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        if revision <= compacted {
            return Ok(());
        }
        let mut buf = Vec::new();
        Record::Compact { revision }.encode_into(&mut buf);
        self.append(&buf).map_err(StoreError::unavailable)?;
        self.shared.state.write().compact(revision);
        while self.commit_times.front().is_some_and(|&(_, rev)| rev < revision) {
            self.commit_times.pop_front();
        }
        if self.file_len > self.options.rewrite_min_bytes.max(2 * self.rewritten_len)
            && let Err(err) = self.rewrite()
        {
            tracing::error!(error = %err, "embedded store: log rewrite failed; keeping the old log");
        }
        Ok(())
    }

    /// Compacts history that is both older than the retention time and further back than the
    /// retention count.
    fn auto_compact(&mut self) {
        let current = self.shared.state.read().current();
        let by_count = current - self.options.retention_revisions;
        let cutoff = Instant::now().checked_sub(self.options.retention_time);
        let by_time = self
            .commit_times
            .iter()
            .take_while(|(at, _)| cutoff.is_some_and(|cutoff| *at <= cutoff))
            .last()
            .map_or(0, |&(_, rev)| rev);
        let target = by_count.min(by_time);
        if target > 0
            && let Err(err) = self.compact(target)
        {
            tracing::warn!(error = %err, target, "embedded store: automatic compaction failed");
        }
    }

    /// Writes the retained state to a new log and swaps it in atomically (write, fsync, rename,
    /// fsync the directory), so disk use follows live data rather than total writes.
    fn rewrite(&mut self) -> std::io::Result<()> {
        let tmp = self.dir.join(super::LOG_TMP);
        let target = self.dir.join(super::LOG_FILE);
        let mut buf = Vec::new();
        {
            let state = self.shared.state.read();
            encode_snapshot(&state, &mut buf);
        }
        let mut file = File::create(&tmp)?;
        file.write_all(&buf)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)?;
        File::open(&self.dir)?.sync_all()?;
        self.file = std::fs::OpenOptions::new().append(true).open(&target)?;
        self.file_len = buf.len() as u64;
        self.rewritten_len = self.file_len;
        tracing::info!(bytes = self.file_len, "embedded store: log rewritten");
        Ok(())
    }
}

/// The records that rebuild `state` exactly: base versions, the revision just below the history,
/// the history itself, and the compaction mark.
pub(crate) fn encode_snapshot(state: &State, buf: &mut Vec<u8>) {
    let mut history_start = state.current() + 1;
    for kv in state.base_versions() {
        Record::Base {
            key: kv.key,
            value: kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
        }
        .encode_into(buf);
    }
    if let Some(first) = state.history().next() {
        history_start = first.revision();
    }
    Record::Revision {
        revision: history_start - 1,
    }
    .encode_into(buf);
    for event in state.history() {
        let record = match event {
            WatchEvent::Put { kv, .. } => Record::Put {
                key: kv.key.clone(),
                value: kv.value.clone(),
                create_revision: kv.create_revision,
                revision: kv.mod_revision,
            },
            WatchEvent::Delete { key, revision, .. } => Record::Delete {
                key: key.clone(),
                revision: *revision,
            },
        };
        record.encode_into(buf);
    }
    Record::Compact {
        revision: state.compacted(),
    }
    .encode_into(buf);
}

fn put(
    overlay: &mut HashMap<String, Option<KeyValue>>,
    changes: &mut Vec<Change>,
    next: &mut Revision,
    key: String,
    value: Bytes,
    prev: Option<KeyValue>,
) -> KeyValue {
    let revision = *next;
    *next += 1;
    let create_revision = prev.map_or(revision, |kv| kv.create_revision);
    let kv = KeyValue {
        key: key.clone(),
        value: value.clone(),
        create_revision,
        mod_revision: revision,
    };
    overlay.insert(key.clone(), Some(kv.clone()));
    changes.push(Change::Put {
        key,
        value,
        create_revision,
        revision,
    });
    kv
}

fn record_of(change: &Change) -> Record {
    match change {
        Change::Put {
            key,
            value,
            create_revision,
            revision,
        } => Record::Put {
            key: key.clone(),
            value: value.clone(),
            create_revision: *create_revision,
            revision: *revision,
        },
        Change::Delete { key, revision } => Record::Delete {
            key: key.clone(),
            revision: *revision,
        },
    }
}
