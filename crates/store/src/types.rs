//! Value types of the storage contract.

use bytes::Bytes;

/// A store revision: one global counter that every write increments. `resourceVersion` in the API
/// is this number as a decimal string.
pub type Revision = i64;

/// One key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision that created the key (stays the same across updates).
    pub create_revision: Revision,
    /// The revision of the last write to the key: the compare-and-swap token.
    pub mod_revision: Revision,
}

/// How to read one page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// At most this many items; `None` or 0 means no limit.
    pub limit: Option<usize>,
    /// Start at this key (inclusive): the continue token of a previous page.
    pub start_key: Option<String>,
    /// Read at this revision instead of the newest one.
    pub at: Option<Revision>,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    pub items: Vec<KeyValue>,
    /// The revision this page was read at; later pages of the same listing pass it as `at`.
    pub revision: Revision,
    /// The key the next page starts at, when the limit cut the listing short.
    pub next_key: Option<String>,
    /// How many keys under the prefix remain after this page (0 when `next_key` is `None`).
    pub remaining: u64,
}

/// A change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The key was created (`prev` is `None`) or updated.
    Put { kv: KeyValue, prev: Option<KeyValue> },
    /// The key was deleted at `revision`; `prev` is its last value.
    Delete {
        key: String,
        revision: Revision,
        prev: Option<KeyValue>,
    },
}

impl WatchEvent {
    /// The revision of the write that produced this event.
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Put { kv, .. } => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }

    /// The key this event is about.
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put { kv, .. } => &kv.key,
            WatchEvent::Delete { key, .. } => key,
        }
    }
}
