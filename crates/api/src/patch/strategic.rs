//! Strategic merge patch (`application/strategic-merge-patch+json`): objects and directives.
//!
//! The algorithm is upstream's `StrategicMergeMapPatch` (`mergeMap` in
//! `S/apimachinery/pkg/util/strategicpatch/patch.go`), with the patch metadata coming from a
//! [`PatchSchema`] instead of Go struct tags. Lists are handled in `strategic_list`.
//!
//! Deliberate differences from upstream, all in corner cases kubectl never produces:
//! - Patch content with nothing to merge into (a new field, a new list element, the body of a
//!   `$patch: replace`) is applied to an empty value rather than stored verbatim, so
//!   directives and `null`s in it never reach storage. Upstream stores them and relies on
//!   typed decoding to drop them.
//! - `$deleteFromPrimitiveList/<f>` when `<f>` is absent does nothing (upstream sets `<f>` to
//!   the list of values to delete), and it is applied after the other keys (upstream's order
//!   is Go's random map order).
//! - Inputs that make upstream panic or fail with "no elements in any of the given slices"
//!   (empty lists with `$setElementOrder`) give an error or a sensible result instead.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::schema::{FieldMeta, PatchSchema, PatchStrategy};
use super::strategic_list::{delete_from_primitive_list, merge_list, set_element_order};
use super::{PatchError, check_depth, remove_ordered};

pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies a strategic merge patch to `target` using the patch metadata in `schema`.
///
/// Objects merge recursively and `null` removes a field. A list follows its field's strategy:
/// with [`PatchStrategy::Merge`] and a merge key, elements merge by that key; with merge and no
/// key, scalars merge as a set; otherwise the list is replaced whole. Directives:
/// `$patch: replace` and `$patch: delete` on objects, `$patch: delete` and `$patch: replace`
/// as list elements, `$retainKeys`, `$setElementOrder/<list>` and
/// `$deleteFromPrimitiveList/<list>`. As upstream, `$patch: merge` is rejected.
///
/// A `null` patch leaves the target unchanged; any other non-object patch or target fails
/// with [`PatchError::BadJsonDocument`].
pub fn apply_strategic_merge_patch(
    target: &Value,
    patch: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    check_depth(target)?;
    check_depth(patch)?;
    let patch = match patch {
        Value::Object(patch) => patch,
        Value::Null => return Ok(target.clone()),
        _ => return Err(PatchError::BadJsonDocument),
    };
    let original = match target {
        Value::Object(original) => original.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::BadJsonDocument),
    };
    merge_map(original, patch, schema).map(Value::Object)
}

/// Merges `patch` into `original` (upstream `mergeMap`).
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    schema: &PatchSchema,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                remove_ordered(&mut rest, DIRECTIVE);
                merge_map(Map::new(), &rest, schema)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(unknown_patch_type(directive, patch)),
        };
    }

    apply_retain_keys(&mut original, patch)?;
    let ordered = apply_set_element_orders(&mut original, patch, schema)?;
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) || ordered.contains(key.as_str()) {
            continue;
        }
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((key, value));
        } else if value.is_null() {
            remove_ordered(&mut original, key);
        } else if let Some(slot) = original.get_mut(key) {
            let live = slot.take();
            *slot = merge_value(live, value, &schema.lookup(key))?;
        } else {
            original.insert(key.clone(), fresh(value, &schema.lookup(key))?);
        }
    }
    apply_deletions(&mut original, &deletions)?;
    Ok(original)
}

/// Applies the `$setElementOrder/<f>` directives, together with the `<f>` lists they order.
/// Returns the fields it handled.
fn apply_set_element_orders<'p>(
    original: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    schema: &PatchSchema,
) -> Result<BTreeSet<&'p str>, PatchError> {
    let mut handled = BTreeSet::new();
    for (key, order) in patch {
        if !key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        let field = directive_field(key, SET_ELEMENT_ORDER).ok_or(PatchError::BadSetElementOrderFormat)?;
        let Value::Array(order) = order else {
            return Err(bad_arg_type(order));
        };
        let live = match original.get_mut(field) {
            Some(Value::Array(items)) => Some(std::mem::take(items)),
            Some(other) => return Err(bad_arg_type(other)),
            None => None,
        };
        let patch_list = match patch.get(field) {
            Some(Value::Array(items)) => Some(items.as_slice()),
            Some(other) => return Err(bad_arg_type(other)),
            None => None,
        };
        if let Some(items) = set_element_order(live, patch_list, order, &schema.lookup(field))? {
            match original.get_mut(field) {
                Some(slot) => *slot = Value::Array(items),
                None => {
                    original.insert(field.to_owned(), Value::Array(items));
                }
            }
        }
        handled.insert(field);
    }
    Ok(handled)
}

/// Applies the `$deleteFromPrimitiveList/<f>` directives.
fn apply_deletions(
    original: &mut Map<String, Value>,
    deletions: &[(&String, &Value)],
) -> Result<(), PatchError> {
    for (key, values) in deletions {
        let field =
            directive_field(key, DELETE_FROM_PRIMITIVE_LIST).ok_or(PatchError::BadPrimitiveListFormat)?;
        if values.is_null() {
            remove_ordered(original, field);
        } else if let Some(slot) = original.get_mut(field) {
            delete_from_primitive_list(slot, values)?;
        }
    }
    Ok(())
}

/// `$retainKeys`: drops live fields the list does not name, after checking that the patch sets
/// no field outside it (upstream `applyRetainKeysDirective`).
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRetainKeysFormat);
    };
    let keep: BTreeSet<&str> = retain.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch {
        let exempt = key == RETAIN_KEYS
            || value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER);
        if !exempt && !keep.contains(key.as_str()) {
            return Err(PatchError::BadRetainKeysFormat);
        }
    }
    original.retain(|key, _| keep.contains(key.as_str()));
    Ok(())
}

/// Merges a patch value into the live value of a field.
fn merge_value(live: Value, patch: &Value, meta: &FieldMeta) -> Result<Value, PatchError> {
    match (live, patch) {
        (Value::Object(live), Value::Object(patch)) if meta.strategy != PatchStrategy::Replace => {
            merge_map(live, patch, &meta.schema).map(Value::Object)
        }
        (Value::Array(live), Value::Array(patch)) if meta.strategy == PatchStrategy::Merge => {
            Ok(Value::Array(merge_list(live, patch, meta)?.items))
        }
        (Value::Array(_), Value::Array(patch)) => Ok(Value::Array(patch.clone())),
        (_, patch) => fresh(patch, meta),
    }
}

/// A patch value with nothing to merge into, applied to an empty value so directives and
/// nulls inside it are interpreted rather than stored.
pub(super) fn fresh(patch: &Value, meta: &FieldMeta) -> Result<Value, PatchError> {
    match patch {
        Value::Object(patch) => merge_map(Map::new(), patch, &meta.schema).map(Value::Object),
        Value::Array(patch) if meta.strategy == PatchStrategy::Merge => {
            Ok(Value::Array(merge_list(Vec::new(), patch, meta)?.items))
        }
        other => Ok(other.clone()),
    }
}

/// `"$setElementOrder/containers"` → `"containers"` (upstream `extractKey`).
fn directive_field<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, field) = key.split_once('/')?;
    (head == prefix).then_some(field)
}

/// Go's `%v`/`%s` rendering of a value inside messages: strings bare, the rest as JSON.
pub(super) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Go type name of a decoded JSON value, for upstream's `ErrBadArgType` wording.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

pub(super) fn bad_arg_type(actual: &Value) -> PatchError {
    PatchError::Strategic(format!(
        "expected a []interface {{}}, but received a {}",
        go_type(actual)
    ))
}

pub(super) fn bad_map_type(actual: &Value) -> PatchError {
    PatchError::Strategic(format!(
        "expected a map[string]interface {{}}, but received a {}",
        go_type(actual)
    ))
}

pub(super) fn unknown_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::Strategic(format!(
        "unknown patch type: {} in map: {}",
        show(directive),
        Value::Object(map.clone())
    ))
}

pub(super) fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Strategic(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(map.clone())
    ))
}
