//! DELETE and DELETECOLLECTION: preconditions, finalizers, propagation policy and graceful
//! deletion.

use std::sync::Arc;

use rudder_api::status::ApiError;
use rudder_store::StoreError;
use serde_json::{Value, json};

use super::object::{self, meta_mut};
use super::watch_cache::{self, CachedObject};
use super::{ListParams, Registry, Resource, encode_for_storage, store_error};

/// `metav1.DeleteOptions`, from the body or the query.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub(crate) grace_period_seconds: Option<i64>,
    pub(crate) propagation_policy: Option<String>,
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_resource_version: Option<String>,
    pub(crate) dry_run: bool,
    /// Who deletes, for admission.
    pub(crate) requester: crate::admission::Requester,
}

impl DeleteOptions {
    /// Reads a DeleteOptions body (JSON) over query-derived defaults.
    pub(crate) fn merge_body(mut self, body: &Value) -> Result<Self, ApiError> {
        if let Some(g) = body.get("gracePeriodSeconds").filter(|v| !v.is_null()) {
            self.grace_period_seconds = Some(
                g.as_i64()
                    .ok_or_else(|| ApiError::bad_request("gracePeriodSeconds must be an integer"))?,
            );
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation_policy = Some(p.to_string());
        } else if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool) {
            self.propagation_policy = Some(if orphan { "Orphan" } else { "Background" }.to_string());
        }
        if let Some(pre) = body.get("preconditions") {
            self.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
            self.precondition_resource_version = pre
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            self.dry_run = true;
        }
        Ok(self)
    }
}

/// The result of a DELETE: the object, and whether it is gone (200) or only marked (202).
#[derive(Debug)]
pub(crate) struct Deleted {
    pub(crate) object: Arc<CachedObject>,
    pub(crate) gone: bool,
}

impl Registry {
    pub(crate) async fn delete(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        if let Some(policy) = opts.propagation_policy.as_deref()
            && !matches!(policy, "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::bad_request(format!(
                "DeletionPropagation: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        let namespace = res.info.namespaced.then_some(namespace).flatten();
        let key = res.key(namespace, name);
        loop {
            let current = self
                .store
                .get(&key, None)
                .await
                .map_err(store_error)?
                .ok_or_else(|| res.not_found(name))?;
            let old = watch_cache::CachedObject::from_kv(&current)
                .map(|o| res.present(o))
                .ok_or_else(|| ApiError::internal(format!("stored object {key} cannot be decoded")))?;
            check_preconditions(res, name, &old.value(), current.mod_revision, opts)?;
            self.admit_delete(res, namespace, name, &old.value(), opts)
                .await?;

            let mut marked = old.value();
            let mut finalizers = object::finalizers(&marked);
            match opts.propagation_policy.as_deref() {
                Some("Orphan") if !finalizers.iter().any(|f| f == "orphan") => {
                    finalizers.push("orphan".into())
                }
                Some("Foreground") if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                    finalizers.push("foregroundDeletion".into())
                }
                _ => {}
            }
            let grace = res
                .strategy
                .graceful_delete_seconds(&marked, opts.grace_period_seconds)
                .filter(|g| *g > 0);
            // Always asked, so that an object with finalizers is also marked (a namespace goes
            // Terminating whatever else holds it).
            let strategy_keeps = res.strategy.begin_delete(&mut marked);
            let keep = strategy_keeps || !finalizers.is_empty() || grace.is_some();
            if !keep {
                if opts.dry_run {
                    return Ok(Deleted {
                        object: old,
                        gone: true,
                    });
                }
                return match self.store.delete(&key, Some(current.mod_revision)).await {
                    Ok(_) => Ok(Deleted {
                        object: old,
                        gone: true,
                    }),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound { .. }) => Err(res.not_found(name)),
                    Err(e) => Err(store_error(e)),
                };
            }
            if object::is_deleting(&old.value()) && object::finalizers(&old.value()) == finalizers {
                // Already marked; upstream answers with the object as it is.
                return Ok(Deleted {
                    object: old,
                    gone: false,
                });
            }
            {
                let m = meta_mut(&mut marked);
                if !m.contains_key("deletionTimestamp") || m["deletionTimestamp"].is_null() {
                    let at = std::time::SystemTime::now()
                        + std::time::Duration::from_secs(grace.unwrap_or(0) as u64);
                    m.insert("deletionTimestamp".into(), json!(object::rfc3339(at)));
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace.unwrap_or(0)));
                }
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                m.remove("resourceVersion");
            }
            if opts.dry_run {
                return Ok(Deleted {
                    object: decode(&marked, current.mod_revision)?,
                    gone: false,
                });
            }
            match self
                .store
                .update(
                    &key,
                    encode_for_storage(&res.to_storage(&marked))?,
                    current.mod_revision,
                )
                .await
            {
                Ok(kv) => {
                    return Ok(Deleted {
                        object: decode(&marked, kv.mod_revision)?,
                        gone: false,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => return Err(res.not_found(name)),
                Err(e) => return Err(store_error(e)),
            }
        }
    }

    /// Deletes every object a list would return; returns what was deleted or marked.
    pub(crate) async fn delete_collection(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        params: &ListParams,
        opts: &DeleteOptions,
    ) -> Result<Vec<Arc<CachedObject>>, ApiError> {
        let listed = self.list(res, namespace, params).await?;
        let mut deleted = Vec::new();
        for obj in listed.items {
            let name = object::name(&obj.value()).unwrap_or_default().to_string();
            let ns = object::namespace(&obj.value()).map(str::to_string);
            match self.delete(res, ns.as_deref(), &name, opts).await {
                Ok(d) => deleted.push(d.object),
                Err(e) if e.code() == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

impl Registry {
    /// Admission of a delete: both phases see the stored object (upstream's delete handler runs
    /// the mutating plugins, the store the validating ones, before anything changes).
    async fn admit_delete(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        old: &Value,
        opts: &DeleteOptions,
    ) -> Result<(), ApiError> {
        use crate::admission::{Attributes, Cluster, Operation};
        let user = opts.requester.user();
        let attrs = Attributes {
            operation: Operation::Delete,
            resource: &res.info,
            subresource: "",
            namespace: namespace.unwrap_or_default(),
            name,
            old: Some(old),
            user: &user,
            dry_run: opts.dry_run,
        };
        let cluster = Cluster::new(self);
        let mut warnings = self.admission.admit(&attrs, None, &cluster).await?;
        warnings.extend(self.admission.validate(&attrs, Some(old), &cluster).await?);
        opts.requester.warnings.extend(warnings);
        Ok(())
    }
}

fn check_preconditions(
    res: &Resource,
    name: &str,
    obj: &Value,
    revision: i64,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &opts.precondition_uid {
        let actual = object::meta_str(obj, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict_with(
                res.info.group,
                res.info.plural,
                name,
                format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
            ));
        }
    }
    if let Some(rv) = &opts.precondition_resource_version
        && *rv != revision.to_string()
    {
        return Err(ApiError::conflict_with(
            res.info.group,
            res.info.plural,
            name,
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {revision}"
            ),
        ));
    }
    Ok(())
}

fn decode(obj: &Value, revision: i64) -> Result<Arc<CachedObject>, ApiError> {
    let bytes = encode_for_storage(obj)?;
    watch_cache::decode(&bytes, revision).ok_or_else(|| ApiError::internal("object cannot be encoded"))
}
