//! rudder-store: the storage contract every Rudder backend implements.
//!
//! The contract is etcd-shaped and kine-sized: one global, monotonic revision; every key carries the
//! revision that created it and the revision that last modified it; writes are compare-and-swap on
//! the modification revision; a watch replays every event after a given revision, in order, then
//! follows live changes. Two backends implement it: [`etcd::EtcdStore`] (production, scales out) and
//! [`embedded::EmbeddedStore`] (one machine, the default). Both run the same
//! [`conformance`] suite.

pub mod embedded;
pub mod error;
pub mod etcd;
mod etcd_endpoints;
pub mod types;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
#[cfg(any(test, feature = "testing"))]
pub mod etcd_process;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use error::{Result, StoreError};
pub use types::{KeyValue, ListOptions, ListPage, Revision, WatchEvent};

/// A stream of watch events. It ends with an error (for example [`StoreError::Compacted`] when a
/// watcher fell behind compaction) or when the store shuts down; it never skips an event.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// The storage contract. Keys are UTF-8 paths such as `/pods/default/web-0`; a backend may prefix
/// them (the etcd backend prepends `/registry`, as upstream does). Values are opaque bytes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The value of `key`, at the newest revision or at `at` if given.
    async fn get(&self, key: &str, at: Option<Revision>) -> Result<Option<KeyValue>>;

    /// Keys under `prefix` in key order, one page at a time. Every page of one listing should be
    /// read at the revision the first page returned, so the pages form one consistent snapshot.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListPage>;

    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` if its modification revision is still `expected`; otherwise fails with
    /// [`StoreError::Conflict`] carrying the current value, or [`StoreError::NotFound`].
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, only if its modification revision is `expected` when given. Returns the
    /// deleted value and the revision of the deletion.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)>;

    /// Every change under `prefix` with a revision greater than `after`, in revision order, then
    /// live changes. Fails with [`StoreError::Compacted`] if events after `after` are gone.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// The newest revision of the whole store.
    async fn current_revision(&self) -> Result<Revision>;

    /// Drops history older than `revision`; later reads or watches that need it get `Compacted`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// Whether `kv` (as read from this store) should be written again even if an update leaves
    /// it unchanged: a layer that transforms values (encryption at rest) says so when the value
    /// was stored in a form it no longer writes (an old key), as upstream's "stale" reads.
    async fn is_stale(&self, kv: &KeyValue) -> Result<bool> {
        let _ = kv;
        Ok(false)
    }
}

/// The key one past every key that starts with `prefix`: the exclusive end of a prefix range.
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // An empty prefix (or all 0xff) covers the whole key space; etcd spells that as "\0".
    vec![0]
}

/// Reads `key`, lets `update` compute its next value, and writes it back with compare-and-swap,
/// retrying on conflict. `update` gets `None` when the key is absent; returning `Ok(None)` leaves the
/// key unchanged.
pub async fn guaranteed_update<F, E>(store: &dyn Store, key: &str, mut update: F) -> Result<KeyValue, E>
where
    F: FnMut(Option<&KeyValue>) -> Result<Option<Bytes>, E>,
    E: From<StoreError>,
{
    let mut current = store.get(key, None).await?;
    loop {
        let Some(next) = update(current.as_ref())? else {
            return current.ok_or_else(|| StoreError::NotFound { key: key.to_string() }.into());
        };
        let written = match &current {
            Some(kv) => store.update(key, next, kv.mod_revision).await,
            None => store.create(key, next).await,
        };
        match written {
            Ok(kv) => return Ok(kv),
            Err(StoreError::Conflict { current: latest, .. }) => current = latest.map(|kv| *kv),
            Err(StoreError::AlreadyExists { .. }) => current = store.get(key, None).await?,
            Err(StoreError::NotFound { .. }) => current = None,
            Err(other) => return Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end("/pods/"), b"/pods0".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
    }
}
