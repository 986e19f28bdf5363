//! Storage-level read-modify-write, as upstream's `Storage.GuaranteedUpdate` used directly by
//! subresources that bypass the update strategy (`pods/binding`, eviction's budget accounting):
//! no defaulting, no validation, no managedFields, only preconditions and compare-and-swap.

use std::sync::Arc;

use rudder_api::status::ApiError;
use rudder_store::StoreError;
use serde_json::Value;

use super::object;
use super::watch_cache::{self, CachedObject};
use super::{Registry, Resource, encode_for_storage, store_error};

/// How often a lost compare-and-swap is retried.
const MAX_RETRIES: usize = 16;

/// `storage.Preconditions`: checked against the stored object on every attempt.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preconditions {
    pub(crate) uid: Option<String>,
    pub(crate) resource_version: Option<String>,
}

impl Preconditions {
    /// The precondition failure as upstream's storage reports it (`storage.NewInvalidObjError`).
    fn check(&self, obj: &Value, revision: i64) -> Result<(), String> {
        if let Some(uid) = &self.uid {
            let actual = object::meta_str(obj, "uid").unwrap_or_default();
            if uid != actual {
                return Err(format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ));
            }
        }
        if let Some(rv) = &self.resource_version
            && *rv != revision.to_string()
        {
            return Err(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
            ));
        }
        Ok(())
    }
}

/// Why a raw update did not happen.
#[derive(Debug)]
pub(crate) enum RawUpdateError {
    NotFound,
    /// A precondition did not hold (upstream's `InvalidObj` storage error).
    Precondition(String),
    /// The update function refused the object.
    Refused(ApiError),
    /// Too many lost races.
    Conflict,
    Api(ApiError),
}

impl Registry {
    /// Reads the object, lets `mutate` change it, and writes it back with compare-and-swap,
    /// retrying lost races. With `dry_run`, returns the result without storing it.
    pub(crate) async fn update_raw(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        preconditions: &Preconditions,
        dry_run: bool,
        mut mutate: impl FnMut(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Arc<CachedObject>, RawUpdateError> {
        let namespace = res.info.namespaced.then_some(namespace).flatten();
        let key = res.key(namespace, name);
        for _ in 0..MAX_RETRIES {
            let current = self
                .store
                .get(&key, None)
                .await
                .map_err(|e| RawUpdateError::Api(store_error(e)))?
                .ok_or(RawUpdateError::NotFound)?;
            let old = watch_cache::CachedObject::from_kv(&current)
                .map(|o| res.present(o))
                .ok_or_else(|| {
                    RawUpdateError::Api(ApiError::internal(format!(
                        "stored object {key} cannot be decoded"
                    )))
                })?;
            preconditions
                .check(&old.value(), current.mod_revision)
                .map_err(RawUpdateError::Precondition)?;
            let mut new = old.value();
            mutate(&mut new).map_err(RawUpdateError::Refused)?;
            object::meta_mut(&mut new).remove("resourceVersion");
            if dry_run {
                return Ok(stamped(new, current.mod_revision));
            }
            let encoded = encode_for_storage(&res.to_storage(&new)).map_err(RawUpdateError::Api)?;
            match self.store.update(&key, encoded, current.mod_revision).await {
                Ok(kv) => return Ok(stamped(new, kv.mod_revision)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => return Err(RawUpdateError::NotFound),
                Err(e) => return Err(RawUpdateError::Api(store_error(e))),
            }
        }
        Err(RawUpdateError::Conflict)
    }
}

fn stamped(mut obj: Value, revision: i64) -> Arc<CachedObject> {
    object::set_resource_version(&mut obj, revision);
    let json = serde_json::to_vec(&obj)
        .map(bytes::Bytes::from)
        .unwrap_or_default();
    CachedObject::new(obj, json, revision)
}
