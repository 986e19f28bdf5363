//! Client-side apply → server-side apply migration: the `last-applied-configuration`
//! annotation (`lastappliedmanager.go`, `lastappliedupdater.go`) and kubectl's managedFields
//! upgrade (`k8s.io/client-go/util/csaupgrade`).

use serde_json::Value;

use super::error::ApplyError;
use super::fieldset::FieldSet;
use super::managed::{Operation, decode_managed_fields, store};
use super::path::write_go_json;
use super::schema::Node;
use super::typed::{compare_objects, to_field_set};

/// The annotation client-side apply (`kubectl apply` without `--server-side`) keeps.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The manager whose conflicts the last-applied annotation may excuse, and whose applies keep
/// the annotation current: only kubectl's default server-side manager.
pub(crate) const KUBECTL_MANAGER: &str = "kubectl";

fn last_applied(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields whose conflicts the last-applied annotation of `live` excuses
/// (`allowedConflictsFromLastApplied`): the fields of the annotation's object whose values the
/// live object still has. `None` when there is no usable annotation.
pub(crate) fn allowed_conflicts(live: Option<&Value>, api_version: &str, root: &Node) -> Option<FieldSet> {
    let live = live?;
    let last: Value = serde_json::from_str(last_applied(live)?).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let mut set = to_field_set(&last, root).ok()?;
    let cmp = compare_objects(&last, live, root);
    set.remove_all(&cmp.modified);
    set.remove_all(&cmp.added);
    set.remove_all(&cmp.removed);
    Some(set)
}

/// When `merged` carries a last-applied annotation, replaces it with the applied configuration
/// (without the annotation), as upstream does for kubectl's server-side applies so a later
/// client-side apply starts from the right state.
pub(crate) fn refresh_annotation(merged: &mut Value, applied: &Value) {
    if last_applied(merged).is_none() {
        return;
    }
    let mut text = String::new();
    match applied
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        Some(annotations) if annotations.contains_key(LAST_APPLIED_ANNOTATION) => {
            let mut copy = applied.clone();
            if let Some(Value::Object(a)) = copy.pointer_mut("/metadata/annotations") {
                crate::patch::remove_ordered(a, LAST_APPLIED_ANNOTATION);
            }
            write_go_json(&copy, &mut text);
        }
        _ => write_go_json(applied, &mut text),
    }
    text.push('\n');
    if let Some(Value::Object(a)) = merged.pointer_mut("/metadata/annotations") {
        a.insert(LAST_APPLIED_ANNOTATION.to_string(), Value::String(text));
    }
}

/// kubectl's `csaupgrade.UpgradeManagedFields`: hands the fields of the `Update` entry of
/// `csa_manager` (normally `kubectl-client-side-apply`) to the `Apply` entry of `ssa_manager`
/// (normally `kubectl`), converting the former into the latter when there is no applier yet,
/// and drops every main-resource `Update` entry of `csa_manager`. Returns whether anything
/// changed. kubectl computes this client-side and sends the result as a JSON patch on
/// `/metadata/managedFields`; the server only has to store it.
pub fn upgrade_managed_fields(
    obj: &mut Value,
    csa_manager: &str,
    ssa_manager: &str,
) -> Result<bool, ApplyError> {
    let mut entries = decode_managed_fields(obj)?;
    let is_csa = |e: &super::ManagedFieldsEntry| {
        e.manager == csa_manager && e.operation == Operation::Update && e.subresource.is_empty()
    };
    let target = match entries
        .iter()
        .position(|e| e.manager == ssa_manager && e.operation == Operation::Apply && e.subresource.is_empty())
    {
        Some(i) => i,
        None => {
            let Some(i) = entries.iter().position(is_csa) else {
                return Ok(false);
            };
            entries[i].operation = Operation::Apply;
            entries[i].manager = ssa_manager.to_string();
            i
        }
    };
    let version = entries[target].api_version.clone();
    if let Some(j) = entries.iter().position(|e| is_csa(e) && e.api_version == version) {
        let fields = entries[j].fields.clone();
        entries[target].fields.union_owned(fields);
    }
    entries.retain(|e| !is_csa(e));
    store(obj, entries);
    Ok(true)
}
