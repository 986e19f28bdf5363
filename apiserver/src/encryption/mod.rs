//! Encryption at rest (`--encryption-provider-config`): a [`Store`] wrapper that seals the values
//! of the configured resources with the first provider of their rule on every write, and opens
//! them with whichever provider's prefix they carry on every read and watch event. Everything
//! above it (watch cache, registry) sees plain values, so nothing else changes.
//!
//! Key rotation is upstream's: put the new key first (and keep the old one listed), restart,
//! rewrite every object (`kubectl get secrets -A -o json | kubectl replace -f -`), then drop the
//! old key.

mod config;
mod providers;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use rudder_store::{KeyValue, ListOptions, ListPage, Revision, Store, StoreError, WatchEvent, WatchStream};

pub(crate) use config::EncryptionConfigError;
use providers::Provider;

/// Which providers each key's value is sealed and opened with.
#[derive(Debug)]
struct Tables {
    /// (`/secrets/`, providers): built-in resources by storage prefix.
    prefixes: Vec<(String, Arc<Vec<Provider>>)>,
    /// Every rule, for custom resources, whose keys are `/<group>/<plural>/...`.
    rules: Vec<(Vec<config::ResourceMatch>, Arc<Vec<Provider>>)>,
}

impl Tables {
    fn providers(&self, key: &str) -> Option<&[Provider]> {
        if let Some((_, p)) = self
            .prefixes
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix.as_str()))
        {
            return Some(p);
        }
        let mut parts = key.trim_start_matches('/').splitn(3, '/');
        let (group, plural) = (parts.next()?, parts.next()?);
        if !group.contains('.') || parts.next().is_none() {
            return None;
        }
        self.rules
            .iter()
            .find(|(matches, _)| matches.iter().any(|m| m.matches(group, plural)))
            .map(|(_, p)| p.as_slice())
    }

    fn seal(&self, key: &str, value: Bytes) -> Result<Bytes, StoreError> {
        match self.providers(key).and_then(|p| p.first()) {
            Some(provider) => provider
                .seal(&value, key)
                .map(Bytes::from)
                .map_err(|e| StoreError::unavailable(format!("encrypting {key}: {e}"))),
            None => Ok(value),
        }
    }

    fn open(&self, mut kv: KeyValue) -> Result<KeyValue, StoreError> {
        if let Some(providers) = self.providers(&kv.key) {
            let plain = providers::open_with(providers, &kv.value, &kv.key)
                .map_err(|e| StoreError::unavailable(format!("decrypting {}: {e}", kv.key)))?;
            kv.value = Bytes::from(plain);
        }
        Ok(kv)
    }

    fn open_opt(&self, kv: Option<KeyValue>) -> Result<Option<KeyValue>, StoreError> {
        kv.map(|kv| self.open(kv)).transpose()
    }

    /// A lost compare-and-swap carries the current value: opened too.
    fn open_error(&self, err: StoreError) -> StoreError {
        match err {
            StoreError::Conflict {
                key,
                expected,
                current,
            } => match self.open_opt(current.map(|c| *c)) {
                Ok(current) => StoreError::Conflict {
                    key,
                    expected,
                    current: current.map(Box::new),
                },
                Err(e) => e,
            },
            other => other,
        }
    }

    fn open_event(&self, event: WatchEvent) -> Result<WatchEvent, StoreError> {
        Ok(match event {
            WatchEvent::Put { kv, prev } => WatchEvent::Put {
                kv: self.open(kv)?,
                prev: self.open_opt(prev)?,
            },
            WatchEvent::Delete { key, revision, prev } => WatchEvent::Delete {
                key,
                revision,
                prev: self.open_opt(prev)?,
            },
        })
    }
}

/// The store with encryption at rest.
pub(crate) struct EncryptingStore {
    inner: Arc<dyn Store>,
    tables: Arc<Tables>,
}

impl std::fmt::Debug for EncryptingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

/// Wraps `inner` with the configuration in `path`.
pub(crate) fn wrap(inner: Arc<dyn Store>, path: &Path) -> Result<Arc<dyn Store>, EncryptionConfigError> {
    let rules: Vec<(Vec<config::ResourceMatch>, Arc<Vec<Provider>>)> = config::load(path)?
        .into_iter()
        .map(|r| (r.resources, Arc::new(r.providers)))
        .collect();
    let mut prefixes: Vec<(String, Arc<Vec<Provider>>)> = Vec::new();
    for info in rudder_api::resources::RESOURCES
        .iter()
        .filter(|r| !r.storage_prefix.is_empty())
    {
        let prefix = format!("{}/", info.storage_prefix);
        if prefixes.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        // The first rule that lists a resource decides, as upstream.
        if let Some((_, providers)) = rules
            .iter()
            .find(|(matches, _)| matches.iter().any(|m| m.matches(info.group, info.plural)))
        {
            prefixes.push((prefix, providers.clone()));
        }
    }
    tracing::info!(
        prefixes = ?prefixes.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        "encryption at rest configured"
    );
    Ok(Arc::new(EncryptingStore {
        inner,
        tables: Arc::new(Tables { prefixes, rules }),
    }))
}

#[async_trait]
impl Store for EncryptingStore {
    async fn get(&self, key: &str, at: Option<Revision>) -> rudder_store::Result<Option<KeyValue>> {
        self.tables.open_opt(self.inner.get(key, at).await?)
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> rudder_store::Result<ListPage> {
        let mut page = self.inner.list(prefix, opts).await?;
        page.items = page
            .items
            .into_iter()
            .map(|kv| self.tables.open(kv))
            .collect::<Result<_, _>>()?;
        Ok(page)
    }

    async fn create(&self, key: &str, value: Bytes) -> rudder_store::Result<KeyValue> {
        let stored = self
            .inner
            .create(key, self.tables.seal(key, value.clone())?)
            .await?;
        Ok(KeyValue { value, ..stored })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> rudder_store::Result<KeyValue> {
        match self
            .inner
            .update(key, self.tables.seal(key, value.clone())?, expected)
            .await
        {
            Ok(stored) => Ok(KeyValue { value, ..stored }),
            Err(e) => Err(self.tables.open_error(e)),
        }
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> rudder_store::Result<(KeyValue, Revision)> {
        match self.inner.delete(key, expected).await {
            Ok((kv, rev)) => Ok((self.tables.open(kv)?, rev)),
            Err(e) => Err(self.tables.open_error(e)),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> rudder_store::Result<WatchStream> {
        let tables = self.tables.clone();
        let stream = self.inner.watch(prefix, after).await?;
        Ok(stream
            .map(move |event| event.and_then(|e| tables.open_event(e)))
            .boxed())
    }

    async fn current_revision(&self) -> rudder_store::Result<Revision> {
        self.inner.current_revision().await
    }

    async fn compact(&self, revision: Revision) -> rudder_store::Result<()> {
        self.inner.compact(revision).await
    }

    /// Stale: sealed by a provider other than the one that writes now (or plain where a
    /// provider now encrypts). Costs one read of the stored form, only for unchanged updates.
    async fn is_stale(&self, kv: &KeyValue) -> rudder_store::Result<bool> {
        let Some(writer) = self.tables.providers(&kv.key).and_then(|p| p.first()) else {
            return Ok(false);
        };
        let stored = self.inner.get(&kv.key, Some(kv.mod_revision)).await?;
        Ok(stored.is_some_and(|s| !writer.writes(&s.value)))
    }
}
