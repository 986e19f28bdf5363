//! Create and update: system metadata, defaulting, validation, the status split, generation,
//! optimistic concurrency, and patches (applied to the current object, retried on conflict).

use std::sync::Arc;

use rudder_api::status::ApiError;
use rudder_api::validation;
use rudder_store::StoreError;
use serde_json::{Value, json};

use super::fields::{self, FieldIssues, FieldValidation, SchemaRef};
use super::object::{self, meta, meta_mut};
use super::strategy::WriteKind;
use super::watch_cache::{self, CachedObject};
use super::{Registry, Resource, encode_for_storage, store_error};
use crate::admission::{self, Attributes, Cluster, Operation};

/// How often a write is retried when it loses a compare-and-swap it did not ask for.
const MAX_RETRIES: usize = 16;

/// The metadata fields the server owns: kept from the stored object on every update.
const SYSTEM_FIELDS: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The field manager of the writes the server makes itself (upstream's loopback client
/// identifies as `kube-apiserver/<version>`).
pub(crate) const SERVER_MANAGER: &str = "kube-apiserver";

/// How a write is carried out and recorded.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOptions {
    /// `dryRun=All`: everything but storing.
    pub(crate) dry_run: bool,
    /// Records the write in `managedFields` as an `Update` by this manager. `None` for writes
    /// that record their own ownership (server-side apply).
    pub(crate) manager: Option<String>,
    /// The subresource written through besides `status` (`scale`), for the managedFields entry.
    pub(crate) subresource: &'static str,
    /// Who writes, for admission, and where admission's warnings go.
    pub(crate) requester: admission::Requester,
}

impl WriteOptions {
    /// A write by `manager`, stored.
    pub(crate) fn by(manager: &str) -> Self {
        WriteOptions {
            manager: Some(manager.to_string()),
            ..Default::default()
        }
    }
}

/// What a client patch is checked for (`fieldValidation`).
#[derive(Debug)]
pub(crate) struct PatchCheck<'s> {
    /// The kind's field schema; `None` for custom resources (only duplicates are reported).
    pub(crate) schema: Option<SchemaRef<'s>>,
    pub(crate) validation: FieldValidation,
    /// Duplicate keys of the patch body.
    pub(crate) body_issues: Vec<String>,
}

/// A patch body and how to apply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Json,
    Merge,
    StrategicMerge,
}

impl Registry {
    /// Creates an object. Returns the stored object (or, with `dry_run`, what would be stored).
    pub(crate) async fn create(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<CachedObject>, ApiError> {
        let dry_run = opts.dry_run;
        check_type(res, &mut obj)?;
        check_decodable(res, &obj)?;
        let namespace = res.info.namespaced.then_some(namespace).flatten();
        match (object::namespace(&obj), namespace) {
            (Some(body), Some(url)) if body != url => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        {
            let m = meta_mut(&mut obj);
            match namespace {
                Some(ns) => m.insert("namespace".into(), json!(ns)),
                None => m.remove("namespace"),
            };
            for field in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                m.remove(field);
            }
            m.insert("uid".into(), json!(object::new_uid()));
            m.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
            if res.strategy.tracks_generation() {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        let generate = object::name(&obj).is_none() && object::meta_str(&obj, "generateName").is_some();
        let template = obj;
        for attempt in 0.. {
            // The name is settled first so that defaulting can use it (job labels, for example).
            let mut obj = template.clone();
            if generate {
                let base = object::meta_str(&obj, "generateName")
                    .unwrap_or_default()
                    .to_string();
                meta_mut(&mut obj).insert("name".into(), json!(format!("{base}{}", object::random_suffix())));
            }
            res.strategy.default(&mut obj);
            record_update(res, None, &mut obj, opts, false);
            let user = opts.requester.user();
            let admitted_name = object::name(&obj).unwrap_or_default().to_string();
            let attrs = Attributes {
                operation: Operation::Create,
                resource: &res.info,
                subresource: "",
                namespace: namespace.unwrap_or_default(),
                name: &admitted_name,
                old: None,
                user: &user,
                dry_run,
            };
            let cluster = Cluster::new(self);
            // Mutating admission sees the decoded, defaulted object (upstream's create handler).
            let warnings = self.admission.admit(&attrs, Some(&mut obj), &cluster).await?;
            opts.requester.warnings.extend(warnings);
            res.strategy.prepare_for_create(&mut obj);
            res.strategy.prepare_for_create_as(&mut obj, &user);
            let mut errors = validation::validate_object_meta(
                meta_value(&obj),
                res.info.namespaced,
                res.strategy.name_validator(),
            );
            errors.extend(res.strategy.validate(&obj, None, WriteKind::Create));
            if !errors.is_empty() {
                return Err(invalid(res, &obj, errors));
            }
            res.strategy.canonicalize(&mut obj);
            // Validating admission sees the object as it would be stored.
            let warnings = self.admission.validate(&attrs, Some(&obj), &cluster).await?;
            opts.requester.warnings.extend(warnings);
            let name = object::name(&obj).unwrap_or_default().to_string();
            let key = res.key(namespace, &name);
            if dry_run {
                if self.store.get(&key, None).await.map_err(store_error)?.is_some() {
                    return Err(ApiError::already_exists(res.info.group, res.info.plural, &name));
                }
                return echo(&obj, 0);
            }
            let stored = encode_for_storage(&res.to_storage(&obj))?;
            match self.store.create(&key, stored.clone()).await {
                Ok(kv) => return Ok(stamped(res, obj, &stored, kv.mod_revision)),
                Err(StoreError::AlreadyExists { .. }) if generate && attempt < 8 => continue,
                Err(StoreError::AlreadyExists { .. }) => {
                    return Err(ApiError::already_exists(res.info.group, res.info.plural, &name));
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        unreachable!("the create loop returns")
    }

    /// Replaces an object (PUT), or its status with `status: true`.
    pub(crate) async fn update(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        mut body: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Arc<CachedObject>, ApiError> {
        check_type(res, &mut body)?;
        if let Some(body_name) = object::name(&body).filter(|n| *n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let precondition = resource_version(&body)?;
        self.guaranteed_write(res, namespace, name, precondition, status, opts, |_| {
            Ok(body.clone())
        })
        .await
    }

    /// Applies a patch to the current object and writes the result (PATCH), without field
    /// validation (the server's own patches).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn patch(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Arc<CachedObject>, ApiError> {
        let check = PatchCheck {
            schema: None,
            validation: FieldValidation::Ignore,
            body_issues: Vec::new(),
        };
        self.patch_checked(res, namespace, name, patch_type, patch, status, opts, &check)
            .await
            .map(|(obj, _)| obj)
    }

    /// Applies a patch and writes the result; unknown fields of the patched object are dropped
    /// and reported with the patch body's duplicates (upstream's patch handler): returned as
    /// warnings, or a 400 under `Strict`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn patch_checked(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        status: bool,
        opts: &WriteOptions,
        check: &PatchCheck<'_>,
    ) -> Result<(Arc<CachedObject>, Vec<String>), ApiError> {
        use rudder_api::patch as p;
        if patch_type == PatchType::StrategicMerge && !p::supports_strategic(res.info.group, res.info.kind) {
            return Err(ApiError::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]));
        }
        // A resourceVersion inside a merge patch is a precondition, as upstream treats it.
        let precondition = match patch_type {
            PatchType::Json => None,
            _ => resource_version(patch)?,
        };
        let schema = p::schema_for(res.info.group, res.info.kind);
        let found = parking_lot::Mutex::new(Vec::new());
        let written = self
            .guaranteed_write(res, namespace, name, precondition, status, opts, |current| {
                let patched = match patch_type {
                    PatchType::Json => p::apply_json_patch(current, patch),
                    PatchType::Merge => p::apply_merge_patch(current, patch),
                    PatchType::StrategicMerge => p::apply_strategic_merge_patch(current, patch, &schema),
                };
                let mut patched = patched.map_err(|e| super::patch_error(&e))?;
                let mut issues = FieldIssues(check.body_issues.clone());
                if let Some(schema) = check.schema {
                    // Unknown fields are dropped whatever the directive, as upstream's decoding
                    // into its types drops them.
                    let mut unknown = FieldIssues::default();
                    fields::prune(&mut patched, schema, &mut unknown);
                    if check.validation != FieldValidation::Ignore {
                        issues.0.extend(unknown.0);
                    }
                }
                if check.validation == FieldValidation::Strict && !issues.is_empty() {
                    return Err(ApiError::bad_request(issues.strict_message()));
                }
                *found.lock() = issues.0;
                Ok(patched)
            })
            .await?;
        Ok((written, found.into_inner()))
    }

    /// Reads the current object, computes the new one with `compute`, and writes it with
    /// compare-and-swap; retries lost races unless the client pinned a resourceVersion.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn guaranteed_write(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        precondition: Option<i64>,
        status: bool,
        opts: &WriteOptions,
        compute: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Arc<CachedObject>, ApiError> {
        let dry_run = opts.dry_run;
        let namespace = res.info.namespaced.then_some(namespace).flatten();
        let key = res.key(namespace, name);
        for _ in 0..MAX_RETRIES {
            let current = self.store.get(&key, None).await.map_err(store_error)?;
            let current = current.ok_or_else(|| res.not_found(name))?;
            if precondition.is_some_and(|rv| rv != current.mod_revision) {
                return Err(ApiError::conflict(res.info.group, res.info.plural, name));
            }
            let old = watch_cache::CachedObject::from_kv(&current)
                .map(|o| res.present(o))
                .ok_or_else(|| ApiError::internal(format!("stored object {key} cannot be decoded")))?;
            let old_value = old.value();
            let mut new = compute(&old_value)?;
            check_type(res, &mut new)?;
            check_decodable(res, &new)?;
            self.prepare_update(res, &mut new, &old_value, status, opts)
                .await?;
            // An unchanged object is not written again, unless its stored form is stale (sealed
            // with an old encryption key): then the write is what rotates it.
            if same_object(&new, &old_value) && !self.store.is_stale(&current).await.unwrap_or(false) {
                return Ok(old);
            }
            if dry_run {
                return echo(&new, current.mod_revision);
            }
            // An object being deleted whose last finalizer just went is removed.
            if object::is_deleting(&new)
                && object::finalizers(&new).is_empty()
                && res.strategy.can_remove(&new)
            {
                return match self.store.delete(&key, Some(current.mod_revision)).await {
                    Ok((_, revision)) => echo(&new, revision),
                    Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                    Err(StoreError::Conflict { .. }) => {
                        Err(ApiError::conflict(res.info.group, res.info.plural, name))
                    }
                    Err(StoreError::NotFound { .. }) => Err(res.not_found(name)),
                    Err(e) => Err(store_error(e)),
                };
            }
            let stored = encode_for_storage(&res.to_storage(&new))?;
            match self
                .store
                .update(&key, stored.clone(), current.mod_revision)
                .await
            {
                Ok(kv) => return Ok(stamped(res, new, &stored, kv.mod_revision)),
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::conflict(res.info.group, res.info.plural, name));
                }
                Err(StoreError::NotFound { .. }) => return Err(res.not_found(name)),
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ApiError::conflict(res.info.group, res.info.plural, name))
    }

    /// Carries system metadata over from the stored object, splits spec and status, bumps the
    /// generation, defaults and validates.
    async fn prepare_update(
        &self,
        res: &Resource,
        new: &mut Value,
        old: &Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<(), ApiError> {
        let has_status = res.info.subresource("status").is_some();
        let finalize = opts.subresource == "finalize";
        if finalize {
            // Through a namespace's /finalize only spec.finalizers changes (upstream's
            // FinalizeREST); the namespace goes once they are empty and it is being deleted.
            let finalizers = new.pointer("/spec/finalizers").cloned();
            *new = old.clone();
            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                match finalizers {
                    Some(f) => spec.insert("finalizers".into(), f),
                    None => spec.remove("finalizers"),
                };
            }
        } else if opts.subresource == "approval" {
            // Through a CSR's /approval only status.conditions change (upstream's
            // csrApprovalStrategy); the strategy then validates Approved/Denied.
            let conditions = new.pointer("/status/conditions").cloned();
            *new = old.clone();
            match conditions {
                Some(c) => new["status"]["conditions"] = c,
                None => {
                    if let Some(s) = new.get_mut("status").and_then(Value::as_object_mut) {
                        s.remove("conditions");
                    }
                }
            }
        } else if status {
            // Through /status only the status changes (upstream's ResetObjectMetaForStatus).
            let new_status = new.get("status").cloned();
            *new = old.clone();
            match new_status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(map) = new.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        } else if has_status {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(map) = new.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        }
        let old_meta = meta(old);
        {
            let m = meta_mut(new);
            for field in SYSTEM_FIELDS {
                match old_meta.get(*field) {
                    Some(v) => m.insert(field.to_string(), v.clone()),
                    None => m.remove(*field),
                };
            }
            for field in ["name", "namespace"] {
                if let Some(v) = old_meta.get(field) {
                    m.insert(field.to_string(), v.clone());
                }
            }
            // The write is checked against the stored revision, not the client's copy.
            match old_meta.get("resourceVersion") {
                Some(rv) => m.insert("resourceVersion".into(), rv.clone()),
                None => m.remove("resourceVersion"),
            };
            if let Some(generation) = old_meta.get("generation") {
                m.insert("generation".into(), generation.clone());
            }
            // Finalizers can only be removed, not added, once deletion started.
        }
        res.strategy.default(new);
        record_update(res, Some(old), new, opts, status);
        let user = opts.requester.user();
        let name = object::name(old).unwrap_or_default().to_string();
        let attrs = Attributes {
            operation: Operation::Update,
            resource: &res.info,
            subresource: if status { "status" } else { opts.subresource },
            namespace: object::namespace(old).unwrap_or_default(),
            name: &name,
            old: Some(old),
            user: &user,
            dry_run: opts.dry_run,
        };
        let cluster = Cluster::new(self);
        // Mutating admission runs on the object computed from the stored one, before the
        // strategy prepares and validates it (upstream's update transformers).
        let warnings = self.admission.admit(&attrs, Some(new), &cluster).await?;
        opts.requester.warnings.extend(warnings);
        if !finalize {
            res.strategy.prepare_for_update(new, old);
        }
        if res.strategy.tracks_generation() && spec_changed(new, old) {
            let next = meta(old).get("generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            meta_mut(new).insert("generation".into(), json!(next));
        }
        let mut errors = validation::validate_object_meta(
            meta_value(new),
            res.info.namespaced,
            res.strategy.name_validator(),
        );
        errors.extend(validation::validate_object_meta_update(
            meta_value(new),
            meta_value(old),
        ));
        let kind = if status {
            WriteKind::StatusUpdate
        } else {
            WriteKind::Update
        };
        errors.extend(res.strategy.validate(new, Some(old), kind));
        if !errors.is_empty() {
            return Err(invalid(res, new, errors));
        }
        res.strategy.canonicalize(new);
        let warnings = self.admission.validate(&attrs, Some(new), &cluster).await?;
        opts.requester.warnings.extend(warnings);
        Ok(())
    }
}

/// Records an ordinary write in `managedFields` (upstream's field manager `Update` operation):
/// on the object as decoded and defaulted, before the strategy resets fields.
fn record_update(res: &Resource, old: Option<&Value>, new: &mut Value, opts: &WriteOptions, status: bool) {
    use rudder_api::apply::{ApplySchema, UpdateOptions, record_update_with, reset_fields_for};
    let Some(manager) = opts.manager.as_deref() else {
        return;
    };
    let subresource = if status { "status" } else { opts.subresource };
    let schema = ApplySchema::for_kind(res.info.group, res.info.kind);
    let now = object::now_rfc3339();
    let api_version = res.info.api_version();
    let update = UpdateOptions {
        manager,
        now: &now,
        api_version: &api_version,
        subresource,
        reset_fields: reset_fields_for(subresource, res.info.subresource("status").is_some()),
    };
    record_update_with(old, new, &schema, &update);
}

fn meta_value(obj: &Value) -> &Value {
    static EMPTY: Value = Value::Null;
    obj.get("metadata").unwrap_or(&EMPTY)
}

/// Fills `kind`/`apiVersion` when absent and refuses a body of another type.
fn check_type(res: &Resource, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    };
    let api_version = res.info.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        Some(_) => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(res.info.kind));
        }
        Some(k) if k != res.info.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.info.kind
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// Refuses a body upstream could not decode into its type, with upstream's message.
fn check_decodable(res: &Resource, obj: &Value) -> Result<(), ApiError> {
    match res.strategy.decode_error(obj) {
        None => Ok(()),
        Some(message) => {
            let kind = res.info.kind;
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: {message}",
                res.info.version
            )))
        }
    }
}

/// The `metadata.resourceVersion` a client sent, as a precondition.
fn resource_version(obj: &Value) -> Result<Option<i64>, ApiError> {
    match obj
        .get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
    {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

/// Everything but metadata and status: what `metadata.generation` tracks.
fn spec_changed(new: &Value, old: &Value) -> bool {
    fn strip(v: &Value) -> Vec<(&String, &Value)> {
        match v.as_object() {
            Some(map) => map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                .collect(),
            None => Vec::new(),
        }
    }
    strip(new) != strip(old)
}

/// Whether a write changes nothing but the resourceVersion (compared in place: cloning both
/// objects to strip it cost as much as the comparison).
fn same_object(new: &Value, old: &Value) -> bool {
    fn same_but_rv(a: &Value, b: &Value, skip: Option<&str>) -> bool {
        match (a.as_object(), b.as_object()) {
            (Some(a), Some(b)) => {
                let relevant = |m: &serde_json::Map<String, Value>| {
                    m.len() - usize::from(skip.is_some_and(|k| m.contains_key(k)))
                };
                relevant(a) == relevant(b)
                    && a.iter().filter(|(k, _)| Some(k.as_str()) != skip).all(|(k, v)| {
                        b.get(k).is_some_and(|w| match (skip, k.as_str()) {
                            (None, "metadata") => same_but_rv(v, w, Some("resourceVersion")),
                            _ => v == w,
                        })
                    })
            }
            _ => a == b,
        }
    }
    same_but_rv(new, old, None)
}

/// The response object of a write: the object as written, with its new resourceVersion. Without
/// a version conversion that is the stored encoding with the revision spliced in (the object is
/// not encoded a second time); no storage round trip either way.
fn stamped(res: &Resource, mut obj: Value, stored: &bytes::Bytes, revision: i64) -> Arc<CachedObject> {
    if res.conversion.is_none()
        && let Some(written) = CachedObject::from_encoded(stored, revision)
    {
        return written;
    }
    object::set_resource_version(&mut obj, revision);
    let json = serde_json::to_vec(&obj)
        .map(bytes::Bytes::from)
        .unwrap_or_default();
    CachedObject::new(obj, json, revision)
}

fn echo(obj: &Value, revision: i64) -> Result<Arc<CachedObject>, ApiError> {
    let bytes = encode_for_storage(obj)?;
    watch_cache::decode(&bytes, revision).ok_or_else(|| ApiError::internal("object cannot be encoded"))
}

fn invalid(res: &Resource, obj: &Value, errors: Vec<validation::FieldError>) -> ApiError {
    let name = object::name(obj).unwrap_or_default();
    ApiError::invalid(res.info.group, res.info.kind, name, &errors)
}

#[cfg(test)]
mod tests {
    use super::same_object;
    use serde_json::json;

    #[test]
    fn same_object_ignores_only_the_resource_version() {
        let base = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "v"}});
        let cases = [
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "9"}, "data": {"k": "v"}}),
                true,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}),
                true,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "w"}}),
                false,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "b", "resourceVersion": "5"}, "data": {"k": "v"}}),
                false,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a", "uid": "u"}, "data": {"k": "v"}}),
                false,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5"}}),
                false,
            ),
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}, "resourceVersion": "5"}),
                false,
            ),
        ];
        for (new, same) in cases {
            assert_eq!(same_object(&new, &base), same, "{new}");
            assert_eq!(same_object(&base, &new), same, "{new} (reversed)");
        }
    }
}
