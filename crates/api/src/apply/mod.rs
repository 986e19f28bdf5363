//! Server-side apply and field management: pure functions over [`serde_json::Value`].
//!
//! Upstream is the reference: `sigs.k8s.io/structured-merge-diff` (`merge/update.go`,
//! `typed/{merge,compare,tofieldset,remove}.go`, `fieldpath/serialize.go`) and
//! `k8s.io/apimachinery/pkg/util/managedfields/internal` (the decorators around it:
//! `stripmeta`, `managedfieldsupdater`, `buildmanagerinfo`, `capmanagers`, `skipnonapplied`,
//! `lastappliedmanager`, `lastappliedupdater`, `conflict`).
//!
//! | Request | Function |
//! |---|---|
//! | `PATCH` with `application/apply-patch+yaml` | [`apply`] / [`apply_with`] |
//! | `POST`, `PUT`, any other `PATCH` | [`record_update`] / [`record_update_with`] |
//!
//! Both maintain `metadata.managedFields`: entries `{manager, operation: Apply|Update,
//! apiVersion, time, fieldsType: FieldsV1, fieldsV1, subresource}`, where `fieldsV1` is a
//! [`FieldSet`] in upstream's encoding (`{"f:spec":{"f:replicas":{}}}`).
//!
//! Apply semantics: the configuration is merged into the live object (objects field by field,
//! keyed lists by key, sets by value, everything else replaced); fields the same manager applied
//! last time and no longer applies are removed unless another manager owns them; a field
//! another manager owns and the configuration changes is a conflict ([`ApplyError::Conflict`],
//! 409) unless `force`, which moves ownership to the applier. Applying a value equal to the live
//! one shares ownership without conflict.

mod conflict;
mod error;
mod fieldset;
mod lastapplied;
mod managed;
mod manager;
mod path;
mod schema;
mod typed;

#[cfg(test)]
mod tests_apply;
#[cfg(test)]
mod tests_fieldset;
#[cfg(test)]
mod tests_update;

use std::sync::OnceLock;

use serde_json::{Map, Value};

pub use conflict::{CAUSE_FIELD_MANAGER_CONFLICT, Conflict, conflict_status};
pub use error::{ApplyError, InvalidObject};
pub use fieldset::{FieldSet, FieldsV1Error};
pub use lastapplied::{LAST_APPLIED_ANNOTATION, upgrade_managed_fields};
pub use managed::{
    ManagedFieldsEntry, Operation, decode_managed_fields, encode_managed_fields, sort_entries,
};
pub use manager::{
    FIELD_MANAGER_MAX_LENGTH, manager_from_user_agent, manager_or_user_agent, validate_field_manager,
    validate_patch_options,
};
pub use path::{PathElement, path_string};
pub use schema::ApplySchema;

use managed::{ManagerId, cap_update_managers, store};

/// The manager upstream gives the fields of an object that had no managedFields when it is
/// first applied to.
pub const BEFORE_FIRST_APPLY_MANAGER: &str = "before-first-apply";

/// Options of an apply request.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions<'a> {
    /// The `fieldManager` query parameter (required for apply; `""` becomes `unknown`).
    pub manager: &'a str,
    /// The `force` query parameter.
    pub force: bool,
    /// The request time, RFC 3339 (`2024-01-01T00:00:00Z`), recorded when the object changes.
    pub now: &'a str,
    /// `""` for the main resource, else the subresource applied to (`status`).
    pub subresource: &'a str,
    /// Dotted field paths the strategy resets and nobody may own (upstream `GetResetFields`):
    /// `["status"]` for the main resource of a kind with a status subresource, `["spec"]` (and
    /// often `metadata.labels`…) for its status subresource. See [`reset_fields_for`].
    pub reset_fields: &'a [&'a str],
}

impl<'a> ApplyOptions<'a> {
    /// Options for `manager` at time `now`: not forced, main resource, nothing reset.
    pub fn new(manager: &'a str, now: &'a str) -> Self {
        ApplyOptions {
            manager,
            force: false,
            now,
            subresource: "",
            reset_fields: &[],
        }
    }
}

/// Options of an ordinary write (create, update, non-apply patch).
#[derive(Debug, Clone, Copy)]
pub struct UpdateOptions<'a> {
    /// [`manager_or_user_agent`] of the request (`""` becomes `unknown`).
    pub manager: &'a str,
    /// The request time, RFC 3339.
    pub now: &'a str,
    /// The API version of the request (`apps/v1`).
    pub api_version: &'a str,
    /// `""` for the main resource, else the subresource written (`status`, `scale`).
    pub subresource: &'a str,
    /// As [`ApplyOptions::reset_fields`].
    pub reset_fields: &'a [&'a str],
}

impl<'a> UpdateOptions<'a> {
    /// Options for `manager` writing the main resource in `api_version` at `now`.
    pub fn new(manager: &'a str, now: &'a str, api_version: &'a str) -> Self {
        UpdateOptions {
            manager,
            now,
            api_version,
            subresource: "",
            reset_fields: &[],
        }
    }
}

/// The reset fields upstream's built-in strategies declare, in the common case: writes to the
/// main resource of a kind with a status subresource cannot own `status`, writes to `status`
/// cannot own `spec`. Kinds without a status subresource reset nothing.
pub fn reset_fields_for(subresource: &str, has_status_subresource: bool) -> &'static [&'static str] {
    match (subresource, has_status_subresource) {
        ("", true) => &["status"],
        ("status", _) => &["spec"],
        _ => &[],
    }
}

/// Applies `applied` as `manager` (`kubectl apply --server-side`): see [`apply_with`]. Main
/// resource, nothing reset.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: &ApplySchema,
    now: &str,
) -> Result<Value, ApplyError> {
    let opts = ApplyOptions {
        force,
        ..ApplyOptions::new(manager, now)
    };
    apply_with(live, applied, schema, &opts)
}

/// Server-side apply (`FieldManager.Apply`): merges `applied` into `live` (`None` creates) and
/// returns the object to store, with `metadata.managedFields` updated.
///
/// The result is not defaulted or validated: the caller runs the usual create/update pipeline
/// on it (defaults, strategy, validation, admission) and restores server-owned metadata
/// (`uid`, `resourceVersion`, `creationTimestamp`, ...) as for any update.
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    schema: &ApplySchema,
    opts: &ApplyOptions<'_>,
) -> Result<Value, ApplyError> {
    check_depth(applied)?;
    if let Some(live) = live {
        check_depth(live)?;
    }
    if !applied.is_object() {
        return Err(ApplyError::BadRequest(
            "the applied configuration must be an object".into(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let api_version = str_at(applied, "apiVersion");
    let kind = str_at(applied, "kind");
    let type_matches = live.is_none_or(|l| {
        (str_at(l, "apiVersion").is_empty() || str_at(l, "apiVersion") == api_version)
            && (str_at(l, "kind").is_empty() || str_at(l, "kind") == kind)
    });
    if api_version.is_empty() || kind.is_empty() || !type_matches {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {group}/{version}, Kind={kind}"
        )));
    }
    let manager = if opts.manager.is_empty() {
        "unknown"
    } else {
        opts.manager
    };
    let root = schema.root();
    let ignored = reset_set(opts.reset_fields);

    let mut entries = match live {
        Some(l) => decode_managed_fields(l)?,
        None => Vec::new(),
    };
    // skipNonApplied: an object nobody tracked yet gets its fields attributed first.
    if let (true, Some(l)) = (entries.is_empty(), live) {
        let mut cmp = typed::compare_objects(empty_object(), l, root);
        cmp.exclude(&ignored);
        let mut fields = cmp.added;
        fields.union_owned(cmp.modified);
        fields.remove_all(strip_set());
        if !fields.is_empty() {
            entries.push(ManagedFieldsEntry {
                manager: BEFORE_FIRST_APPLY_MANAGER.into(),
                operation: Operation::Update,
                api_version: api_version.into(),
                time: Some(opts.now.into()),
                subresource: opts.subresource.into(),
                fields,
            });
        }
    }

    let mut config_set = typed::to_field_set(applied, root)?;
    config_set.remove_recursive(&ignored);

    let mut merged = match live {
        Some(l) => clone_without_managed_fields(l),
        None => Value::Object(Map::new()),
    };
    typed::merge_into(&mut merged, applied, root)?;
    if let Some(l) = live {
        restore_server_metadata(&mut merged, l);
    }

    let id = ManagerId {
        manager,
        operation: Operation::Apply,
        api_version: "",
        subresource: opts.subresource,
    };
    let me = match entries.iter().position(|e| e.is(&id)) {
        Some(i) => i,
        None => {
            entries.push(ManagedFieldsEntry {
                manager: manager.into(),
                operation: Operation::Apply,
                api_version: String::new(),
                time: None,
                subresource: opts.subresource.into(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    entries[me].api_version = api_version.into();
    let last = std::mem::replace(&mut entries[me].fields, config_set);
    {
        let managed: Vec<&FieldSet> = entries.iter().map(|e| &e.fields).collect();
        typed::prune(&mut merged, &last, &managed, root);
    }

    let mut cmp = typed::compare_objects(live.unwrap_or(empty_object()), &merged, root);
    let unchanged = cmp.is_same();
    cmp.exclude(&ignored);
    let mut changed = std::mem::take(&mut cmp.modified);
    changed.union_owned(std::mem::take(&mut cmp.added));

    let mut owned_changes: Vec<(usize, FieldSet)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if i != me {
            let both = e.fields.intersection(&changed);
            if !both.is_empty() {
                owned_changes.push((i, both));
            }
        }
    }
    if !owned_changes.is_empty() && !opts.force {
        let mut conflicts = Vec::new();
        for (i, set) in &owned_changes {
            let e = &entries[*i];
            for path in set.paths() {
                conflicts.push((path, e));
            }
        }
        // lastAppliedManager: kubectl's first server-side apply over client-side apply may take
        // the fields the last-applied annotation still describes.
        let allowed = (manager == lastapplied::KUBECTL_MANAGER)
            .then(|| lastapplied::allowed_conflicts(live, api_version, root))
            .flatten();
        if let Some(allowed) = &allowed {
            conflicts.retain(|(path, _)| !allowed.contains(path));
        }
        if allowed.is_none() || !conflicts.is_empty() {
            return Err(ApplyError::Conflict {
                conflicts: conflicts
                    .into_iter()
                    .map(|(path, e)| Conflict {
                        manager: e.manager.clone(),
                        operation: e.operation,
                        api_version: e.api_version.clone(),
                        subresource: e.subresource.clone(),
                        field: path_string(&path),
                    })
                    .collect(),
            });
        }
    }
    for (i, set) in &owned_changes {
        entries[*i].fields.remove_all(set);
    }
    if !cmp.removed.is_empty() {
        for (i, e) in entries.iter_mut().enumerate() {
            if i != me {
                e.fields.remove_all(&cmp.removed);
            }
        }
    }
    entries[me].fields.remove_all(strip_set());
    if !unchanged {
        entries[me].time = Some(opts.now.into());
    }
    entries.retain(|e| !e.fields.is_empty());

    if manager == lastapplied::KUBECTL_MANAGER {
        lastapplied::refresh_annotation(&mut merged, applied);
    }
    store(&mut merged, entries);
    Ok(merged)
}

/// The set of fields `value` (an object or an applied configuration) sets, as the applier of
/// `value` would own them (`TypedValue.ToFieldSet`). Errors on list items without their keys
/// and on duplicated keys.
pub fn field_set(value: &Value, schema: &ApplySchema) -> Result<FieldSet, ApplyError> {
    typed::to_field_set(value, schema.root())
}

/// Records an ordinary write in `new.metadata.managedFields` (`FieldManager.UpdateNoErrors`):
/// see [`record_update_with`]. Main resource, nothing reset.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    now: &str,
    api_version: &str,
    schema: &ApplySchema,
) {
    record_update_with(old, new, schema, &UpdateOptions::new(manager, now, api_version));
}

/// Records a create (`old` = `None`), update or non-apply patch in `new.metadata.managedFields`,
/// as upstream's `Update` operation: the manager's `Update` entry for this API version gains
/// every field the write added or changed (and gets `time` = now), and every manager loses the
/// fields the write changed or removed. Writes that change nothing leave the entries alone.
///
/// `new` should be the object as decoded and defaulted, before the strategy resets fields
/// (or pass [`UpdateOptions::reset_fields`]). Managed fields sent in `new` replace the live ones
/// (this is how kubectl's JSON patch on `/metadata/managedFields` migrates client-side apply
/// ownership); `[]` clears them. An existing object without managedFields stays untracked,
/// as upstream does. Subresource writes always keep the live managedFields. Never fails:
/// undecodable managedFields are treated as absent.
pub fn record_update_with(
    old: Option<&Value>,
    new: &mut Value,
    schema: &ApplySchema,
    opts: &UpdateOptions<'_>,
) {
    if check_depth(new).is_err() || old.is_some_and(|o| check_depth(o).is_err()) {
        return;
    }
    let manager = if opts.manager.is_empty() {
        "unknown"
    } else {
        opts.manager
    };
    let sent = take_managed_fields(new);
    let from_old = || {
        old.and_then(|o| decode_managed_fields(o).ok())
            .unwrap_or_default()
    };
    let mut entries = if !opts.subresource.is_empty() {
        from_old()
    } else {
        match &sent {
            Some(Value::Array(items)) if is_reset(items) => Vec::new(),
            Some(Value::Array(items)) => match managed::decode_entries(items) {
                Ok(decoded) if !decoded.is_empty() => decoded,
                _ => from_old(),
            },
            _ => from_old(),
        }
    };
    if entries.is_empty() && old.is_some_and(|o| !str_at(o, "metadata.uid").is_empty()) {
        // skipNonApplied: untracked objects stay untracked until their first apply.
        store(new, entries);
        return;
    }

    let root = schema.root();
    let mut cmp = typed::compare_objects(old.unwrap_or(empty_object()), new, root);
    cmp.exclude(&reset_set(opts.reset_fields));
    let mut changed = std::mem::take(&mut cmp.modified);
    changed.union_owned(std::mem::take(&mut cmp.added));
    for e in &mut entries {
        e.fields.remove_all(&changed);
        e.fields.remove_all(&cmp.removed);
    }
    changed.remove_all(strip_set());
    if !changed.is_empty() {
        let id = ManagerId {
            manager,
            operation: Operation::Update,
            api_version: opts.api_version,
            subresource: opts.subresource,
        };
        match entries.iter_mut().find(|e| e.is(&id)) {
            Some(e) => {
                e.fields.union_owned(changed);
                e.time = Some(opts.now.into());
            }
            None => entries.push(ManagedFieldsEntry {
                manager: manager.into(),
                operation: Operation::Update,
                api_version: opts.api_version.into(),
                time: Some(opts.now.into()),
                subresource: opts.subresource.into(),
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    cap_update_managers(&mut entries);
    store(new, entries);
}

/// `isResetManagedFields`: `[]` or `[{}]`.
fn is_reset(items: &[Value]) -> bool {
    match items {
        [] => true,
        [only] => only.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

fn take_managed_fields(obj: &mut Value) -> Option<Value> {
    let meta = obj.get_mut("metadata")?.as_object_mut()?;
    if !meta.contains_key("managedFields") {
        return None;
    }
    crate::patch::remove_ordered(meta, "managedFields")
}

/// A string at a dotted path, `""` when absent.
fn str_at<'v>(v: &'v Value, dotted: &str) -> &'v str {
    dotted
        .split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn check_depth(v: &Value) -> Result<(), ApplyError> {
    let max = crate::patch::MAX_DEPTH;
    if crate::patch::nesting_depth(v, max + 1) > max {
        return Err(ApplyError::BadRequest(format!(
            "the object nests deeper than the maximum of {max} levels"
        )));
    }
    Ok(())
}

fn empty_object() -> &'static Value {
    static EMPTY: OnceLock<Value> = OnceLock::new();
    EMPTY.get_or_init(|| Value::Object(Map::new()))
}

/// A copy of `obj` without `metadata.managedFields`, cloning everything else once.
fn clone_without_managed_fields(obj: &Value) -> Value {
    let Value::Object(root) = obj else {
        return obj.clone();
    };
    Value::Object(
        root.iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("metadata", Value::Object(meta)) => (
                    k.clone(),
                    Value::Object(
                        meta.iter()
                            .filter(|(k, _)| k.as_str() != "managedFields")
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                ),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    )
}

/// Metadata the server owns, which a configuration's `null` (`creationTimestamp: null` is in
/// many generated manifests) must not remove: upstream's `BeforeUpdate` puts it back, so
/// keeping it here also keeps re-applies of such manifests no-ops.
const SERVER_METADATA: &[&str] = &[
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "generation",
    "resourceVersion",
    "uid",
];

fn restore_server_metadata(merged: &mut Value, live: &Value) {
    let (Some(Value::Object(meta)), Some(Value::Object(live_meta))) =
        (merged.get_mut("metadata"), live.get("metadata"))
    else {
        return;
    };
    for key in SERVER_METADATA {
        if !meta.contains_key(*key)
            && let Some(v) = live_meta.get(*key)
        {
            meta.insert((*key).to_string(), v.clone());
        }
    }
}

/// Dotted paths as a set of field paths.
fn reset_set(paths: &[&str]) -> FieldSet {
    let mut set = FieldSet::new();
    for p in paths {
        let path: Vec<PathElement> = p.split('.').map(PathElement::field).collect();
        set.insert(&path);
    }
    set
}

/// The fields no manager ever owns (`stripMetaManager`).
fn strip_set() -> &'static FieldSet {
    static STRIP: OnceLock<FieldSet> = OnceLock::new();
    STRIP.get_or_init(|| {
        let mut set = reset_set(&["apiVersion", "kind", "metadata"]);
        for f in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            set.insert(&[PathElement::field("metadata"), PathElement::field(f)]);
        }
        set
    })
}
