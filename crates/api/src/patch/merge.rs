//! JSON merge patch, RFC 7386 (`application/merge-patch+json`).

use serde_json::{Map, Value};

use super::{PatchError, check_depth, remove_ordered};

/// Applies an RFC 7386 merge patch to `target` and returns the result.
///
/// Objects merge recursively, `null` removes a member, and anything else (arrays included)
/// replaces the target value. A patch that is not an object replaces the whole document, as
/// the RFC says; the caller's decoding into a typed object then rejects it. Nulls inside
/// newly added objects are dropped, so they never reach storage.
///
/// Errors only with [`PatchError::TooDeep`] when an input nests deeper than
/// [`super::MAX_DEPTH`].
pub fn apply_merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    check_depth(target)?;
    check_depth(patch)?;
    Ok(merge(target.clone(), patch))
}

fn merge(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            remove_ordered(&mut target, key);
        } else if let Some(slot) = target.get_mut(key) {
            let current = slot.take();
            *slot = merge(current, value);
        } else {
            target.insert(key.clone(), merge(Value::Null, value));
        }
    }
    Value::Object(target)
}
