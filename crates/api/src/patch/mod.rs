//! Patch application for `PATCH` requests: pure functions over [`serde_json::Value`].
//!
//! | Content-Type | Function |
//! |---|---|
//! | `application/json-patch+json` (RFC 6902) | [`apply_json_patch`] |
//! | `application/merge-patch+json` (RFC 7386) | [`apply_merge_patch`] |
//! | `application/strategic-merge-patch+json` | [`apply_strategic_merge_patch`] with [`schema_for`] |
//!
//! Upstream behaviour is the reference: `S/apimachinery/pkg/util/strategicpatch/patch.go` for
//! strategic merge, `gopkg.in/evanphx/json-patch.v4` for RFC 6902 and RFC 7386, and
//! `S/apiserver/pkg/endpoints/handlers/patch.go` for limits and status codes
//! ([`PatchError::code`]). Server-side apply (`application/apply-patch+yaml`) lives elsewhere.
//!
//! Strategic merge patch is accepted for built-in kinds only ([`supports_strategic`]); for
//! anything else the handler answers 415 listing [`supported_patch_types`].
//!
//! Every entry point first checks that its inputs nest at most [`MAX_DEPTH`] levels, so the
//! recursive merges cannot exhaust the stack whatever a user sends.

mod builtin;
mod error;
mod json;
mod merge;
mod schema;
mod strategic;
mod strategic_list;

#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_json;
#[cfg(test)]
mod tests_merge;
#[cfg(test)]
mod tests_schema;
#[cfg(test)]
mod tests_strategic;

use serde_json::{Map, Value};

pub use builtin::{schema_for, supports_strategic};
pub use error::PatchError;
pub use json::{MAX_JSON_PATCH_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, apply_json_patch};
pub use merge::apply_merge_patch;
pub use schema::{FieldMeta, PatchSchema, PatchStrategy, SchemaBuilder};
pub use strategic::apply_strategic_merge_patch;

/// Content-Type of RFC 6902 JSON patches.
pub const JSON_PATCH: &str = "application/json-patch+json";
/// Content-Type of RFC 7386 JSON merge patches.
pub const MERGE_PATCH: &str = "application/merge-patch+json";
/// Content-Type of strategic merge patches.
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
/// Content-Type of server-side apply patches.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// How deeply the object and the patch may nest (objects and arrays count one level each).
///
/// Upstream's JSON decoder stops at 10,000 levels. The merges here recurse per level and an
/// unoptimised build spends about 3 KiB of stack per level, so the limit keeps a whole patch
/// within about 1.5 MiB: inside tokio's 2 MiB worker stacks even in debug builds. Real objects
/// nest a few dozen levels at most (and `serde_json` refuses to parse more than 128 unless
/// told otherwise).
pub const MAX_DEPTH: usize = 512;

/// The patch Content-Types accepted for `kind` in `group`, in upstream's order (the order of
/// the 415 message: `the body of the request was in an unknown format - accepted media types
/// include: …`).
pub fn supported_patch_types(group: &str, kind: &str) -> &'static [&'static str] {
    if supports_strategic(group, kind) {
        &[JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]
    } else {
        &[JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    }
}

/// Checks that `value` nests at most [`MAX_DEPTH`] levels, without recursing.
pub(crate) fn check_depth(value: &Value) -> Result<(), PatchError> {
    if nesting_depth(value, MAX_DEPTH + 1) > MAX_DEPTH {
        return Err(PatchError::TooDeep { max: MAX_DEPTH });
    }
    Ok(())
}

/// How many levels of objects and arrays `value` nests (a scalar is 0, `{}` is 1), counting no
/// further than `limit`. Iterative, so safe on any input.
pub(crate) fn nesting_depth(value: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth);
        if deepest >= limit {
            return deepest;
        }
        stack.extend(
            children
                .filter(|c| c.is_array() || c.is_object())
                .map(|c| (c, depth + 1)),
        );
    }
    deepest
}

/// Removes `key` from `map` keeping the order of the other members, whichever map
/// implementation serde_json was built with.
pub(crate) fn remove_ordered(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let value = map.get_mut(key)?.take();
    map.retain(|k, _| k != key);
    Some(value)
}
