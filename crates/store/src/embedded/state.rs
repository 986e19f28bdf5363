//! The in-memory multi-version index: every retained version of every key, plus the event history
//! that watches replay. Only the writer thread mutates it; readers take the read lock briefly.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::{KeyValue, ListOptions, ListPage, Result, Revision, StoreError, WatchEvent};

/// One version of a key. `value: None` is a deletion (tombstone).
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub(crate) mod_revision: Revision,
    pub(crate) create_revision: Revision,
    pub(crate) value: Option<Bytes>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Versions of each key in ascending revision order.
    keys: BTreeMap<String, Vec<Version>>,
    /// One event per revision, for revisions `history_start ..= current`.
    history: VecDeque<WatchEvent>,
    history_start: Revision,
    current: Revision,
    /// Reads below this revision fail with `Compacted`.
    compacted: Revision,
}

/// A write decided by the writer thread, ready to be logged and applied.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Put {
        key: String,
        value: Bytes,
        create_revision: Revision,
        revision: Revision,
    },
    Delete {
        key: String,
        revision: Revision,
    },
}

impl Change {
    pub(crate) fn revision(&self) -> Revision {
        match self {
            Change::Put { revision, .. } | Change::Delete { revision, .. } => *revision,
        }
    }
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            history_start: 1,
            ..Default::default()
        }
    }

    pub(crate) fn current(&self) -> Revision {
        self.current
    }

    pub(crate) fn compacted(&self) -> Revision {
        self.compacted
    }

    fn check_readable(&self, at: Revision) -> Result<()> {
        if at < self.compacted {
            return Err(StoreError::Compacted {
                requested: at,
                compacted: self.compacted,
            });
        }
        if at > self.current {
            return Err(StoreError::FutureRevision {
                requested: at,
                current: self.current,
            });
        }
        Ok(())
    }

    fn version_at(versions: &[Version], at: Revision) -> Option<&Version> {
        let idx = versions.partition_point(|v| v.mod_revision <= at);
        idx.checked_sub(1).map(|i| &versions[i])
    }

    fn to_kv(key: &str, version: &Version) -> Option<KeyValue> {
        version.value.as_ref().map(|value| KeyValue {
            key: key.to_string(),
            value: value.clone(),
            create_revision: version.create_revision,
            mod_revision: version.mod_revision,
        })
    }

    /// The newest live version of `key`.
    pub(crate) fn latest(&self, key: &str) -> Option<KeyValue> {
        let version = self.keys.get(key)?.last()?;
        Self::to_kv(key, version)
    }

    pub(crate) fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>> {
        let at = at.unwrap_or(self.current);
        self.check_readable(at)?;
        Ok(self
            .keys
            .get(key)
            .and_then(|versions| Self::version_at(versions, at))
            .and_then(|v| Self::to_kv(key, v)))
    }

    pub(crate) fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListPage> {
        let at = opts.at.unwrap_or(self.current);
        self.check_readable(at)?;
        let start = match &opts.start_key {
            Some(start) if start.as_str() > prefix => start.as_str(),
            _ => prefix,
        };
        let limit = opts.limit.filter(|&l| l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut next_key = None;
        let mut remaining = 0u64;
        let live = self
            .keys
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter_map(|(key, versions)| Self::version_at(versions, at).and_then(|v| Self::to_kv(key, v)));
        for kv in live {
            if items.len() < limit {
                items.push(kv);
            } else {
                if next_key.is_none() {
                    next_key = Some(kv.key);
                }
                remaining += 1;
            }
        }
        Ok(ListPage {
            items,
            revision: at,
            next_key,
            remaining,
        })
    }

    /// Events with revision greater than `after` whose key starts with `prefix`, at most `max`
    /// of them scanned. Returns the events and the last revision scanned.
    pub(crate) fn events_after(
        &self,
        prefix: &str,
        after: Revision,
        max: usize,
    ) -> Result<(Vec<WatchEvent>, Revision)> {
        if after + 1 < self.history_start {
            return Err(StoreError::Compacted {
                requested: after + 1,
                compacted: self.history_start,
            });
        }
        let skip = usize::try_from(after + 1 - self.history_start).unwrap_or(usize::MAX);
        let mut last = after.max(self.history_start - 1);
        let mut events = Vec::new();
        for event in self.history.iter().skip(skip).take(max) {
            last = event.revision();
            if event.key().starts_with(prefix) {
                events.push(event.clone());
            }
        }
        Ok((events, last))
    }

    /// Applies a write decided by the writer. Revisions must arrive in order, one apart.
    pub(crate) fn apply(&mut self, change: Change) {
        let revision = change.revision();
        debug_assert_eq!(revision, self.current + 1, "revisions are contiguous");
        let (key, version) = match change {
            Change::Put {
                key,
                value,
                create_revision,
                revision,
            } => (
                key,
                Version {
                    mod_revision: revision,
                    create_revision,
                    value: Some(value),
                },
            ),
            Change::Delete { key, revision } => (
                key,
                Version {
                    mod_revision: revision,
                    create_revision: 0,
                    value: None,
                },
            ),
        };
        let versions = self.keys.entry(key.clone()).or_default();
        let prev = versions.last().and_then(|v| Self::to_kv(&key, v));
        let event = match &version.value {
            Some(value) => {
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: version.create_revision,
                    mod_revision: revision,
                };
                WatchEvent::Put { kv, prev }
            }
            None => WatchEvent::Delete {
                key: key.clone(),
                revision,
                prev,
            },
        };
        versions.push(version);
        if self.history.is_empty() {
            self.history_start = revision;
        }
        self.history.push_back(event);
        self.current = revision;
    }

    /// Restores a version older than the retained history (from a rewritten log).
    pub(crate) fn restore_base(
        &mut self,
        key: String,
        value: Bytes,
        create_revision: Revision,
        mod_revision: Revision,
    ) {
        self.keys.entry(key).or_default().push(Version {
            mod_revision,
            create_revision,
            value: Some(value),
        });
        self.current = self.current.max(mod_revision);
    }

    /// Sets the revision counter when the log says it is ahead of what was replayed.
    pub(crate) fn restore_revision(&mut self, current: Revision) {
        self.current = self.current.max(current);
        if self.history.is_empty() {
            self.history_start = self.current + 1;
        }
    }

    /// Drops versions and events older than `revision`. A key keeps its newest version at or below
    /// `revision` unless that version is a deletion.
    pub(crate) fn compact(&mut self, revision: Revision) {
        let revision = revision.min(self.current);
        if revision <= self.compacted {
            return;
        }
        self.compacted = revision;
        self.keys.retain(|_, versions| {
            let keep_from = versions
                .partition_point(|v| v.mod_revision <= revision)
                .saturating_sub(1);
            versions.drain(..keep_from);
            !(versions.len() == 1 && versions[0].value.is_none() && versions[0].mod_revision <= revision)
        });
        while self.history_start < revision && self.history.pop_front().is_some() {
            self.history_start += 1;
        }
        if self.history.is_empty() {
            self.history_start = self.current + 1;
        }
    }

    /// What a rewritten log must hold below the retained history: for each key, its newest
    /// version older than the history, when that version is live or is the previous value of an
    /// event the history still holds (so replayed deletes keep their previous values).
    pub(crate) fn base_versions(&self) -> Vec<KeyValue> {
        let below = self.history_start;
        let mut base: BTreeMap<&str, KeyValue> = BTreeMap::new();
        for (key, versions) in &self.keys {
            let newest_below = versions.iter().rev().find(|v| v.mod_revision < below);
            if let Some(kv) = newest_below.and_then(|v| Self::to_kv(key, v)) {
                base.insert(key, kv);
            }
        }
        for event in &self.history {
            let prev = match event {
                WatchEvent::Put { prev, .. } | WatchEvent::Delete { prev, .. } => prev,
            };
            if let Some(prev) = prev.as_ref().filter(|p| p.mod_revision < below) {
                base.entry(prev.key.as_str()).or_insert_with(|| prev.clone());
            }
        }
        base.into_values().collect()
    }

    /// The retained history, oldest first.
    pub(crate) fn history(&self) -> impl Iterator<Item = &WatchEvent> {
        self.history.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str, create: Revision, rev: Revision) -> Change {
        Change::Put {
            key: key.into(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            create_revision: create,
            revision: rev,
        }
    }

    #[test]
    fn compaction_keeps_the_version_visible_at_the_compacted_revision() {
        let mut state = State::new();
        state.apply(put("/a", "1", 1, 1));
        state.apply(put("/a", "2", 1, 2));
        state.apply(put("/b", "x", 3, 3));
        state.apply(Change::Delete {
            key: "/b".into(),
            revision: 4,
        });
        state.apply(put("/a", "3", 1, 5));
        state.compact(4);
        assert_eq!(state.get("/a", Some(4)).unwrap().unwrap().value, "2");
        assert!(state.get("/b", Some(4)).unwrap().is_none());
        assert!(matches!(
            state.get("/a", Some(3)),
            Err(StoreError::Compacted { .. })
        ));
        assert_eq!(state.keys.len(), 1, "fully deleted keys are dropped");
        let (events, last) = state.events_after("/", 3, 100).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(last, 5);
        assert!(state.events_after("/", 2, 100).is_err());
        let base: Vec<_> = state
            .base_versions()
            .into_iter()
            .map(|kv| (kv.key, kv.mod_revision))
            .collect();
        assert_eq!(
            base,
            vec![("/a".to_string(), 2), ("/b".to_string(), 3)],
            "the deleted /b keeps its last value"
        );
    }
}
