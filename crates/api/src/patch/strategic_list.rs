//! Strategic merge patch: lists, list directives and element order.
//!
//! Upstream's `mergeSlice`, `mergePatchIntoOriginal` (`$setElementOrder`) and
//! `normalizeElementOrder`. The ordering rules are kept exactly, because they decide where
//! `kubectl apply` and `kubectl set image` leave containers and env vars:
//! - patch items are ordered as in the patch (or its `$setElementOrder` list), live-only items
//!   keep their live order, and the two runs are interleaved by live position: a live-only
//!   item goes first when both it and the next patch item exist in the live list and it comes
//!   earlier there; otherwise the patch item goes first (so new items without an order
//!   directive land before the live ones);
//! - for `$setElementOrder` on a list of objects, "live position" is that of upstream's
//!   reused backing array: the live list after `$patch: delete` removals, then the appended
//!   new items, cut to the live list's original length.
//!
//! Elements are identified by a string fingerprint of their merge key value (or of the whole
//! value for scalars) so lookups stay linear-time on large lists.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::PatchError;
use super::schema::{FieldMeta, PatchStrategy};
use super::strategic::{DIRECTIVE, bad_map_type, merge_map, no_merge_key, unknown_patch_type};

/// A merged list, and the live order upstream's later ordering step compares against.
pub(super) struct Merged {
    pub(super) items: Vec<Value>,
    server_order: Vec<String>,
}

/// Merges a patch list into a live list of a field whose strategy is merge.
pub(super) fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    meta: &FieldMeta,
) -> Result<Merged, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(Merged {
            items: original,
            server_order: Vec::new(),
        });
    }
    if element_kind(&[&original, patch])? != Some(Kind::Object) {
        return Ok(merge_scalars(original, patch));
    }
    let Some(key) = meta.merge_key else {
        return Err(PatchError::Strategic(
            "cannot merge lists without merge key for type struct".to_owned(),
        ));
    };
    merge_objects(original, patch, key, meta)
}

/// Lists of scalars merge as a set union.
fn merge_scalars(original: Vec<Value>, patch: &[Value]) -> Merged {
    let live_ids: Vec<String> = original.iter().map(fingerprint).collect();
    let mut seen = HashSet::new();
    let mut merged = Vec::with_capacity(original.len() + patch.len());
    for value in original.into_iter().chain(patch.iter().cloned()) {
        if seen.insert(fingerprint(&value)) {
            merged.push(value);
        }
    }
    let patch_pos = positions(patch.iter().map(fingerprint));
    let (patch_items, server_only): (Vec<_>, Vec<_>) = merged
        .into_iter()
        .partition(|v| patch_pos.contains_key(&fingerprint(v)));
    let live_pos = positions(live_ids.iter().cloned());
    let items = merge_sorted(
        sort_by(server_only, &live_pos, Identity::Whole),
        sort_by(patch_items, &patch_pos, Identity::Whole),
        &live_pos,
        Identity::Whole,
    );
    Merged {
        items,
        server_order: live_ids,
    }
}

/// Lists of objects merge element by element, matched by `key`.
fn merge_objects(
    original: Vec<Value>,
    patch: &[Value],
    key: &str,
    meta: &FieldMeta,
) -> Result<Merged, PatchError> {
    let ident = Identity::Key(key);
    let mut deletes = HashSet::new();
    let mut replace = false;
    let mut updates = Vec::new();
    for item in patch {
        let Value::Object(map) = item else {
            return Err(bad_map_type(item));
        };
        match map.get(DIRECTIVE) {
            None => updates.push(map),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let value = map.get(key).ok_or_else(|| no_merge_key(map, key))?;
                    deletes.insert(fingerprint(value));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Strategic(
                        "merging lists cannot yet be specified in the patch".to_owned(),
                    ));
                }
                _ => return Err(unknown_patch_type(directive, map)),
            },
        }
    }

    let live_len = original.len();
    let mut current = original;
    current.retain(|item| item.get(key).is_none_or(|v| !deletes.contains(&fingerprint(v))));
    let mut server_order: Vec<String> = current.iter().map(|item| ident.of(item)).collect();
    let live_pos = positions(server_order.iter().cloned());

    if replace {
        let mut items = Vec::with_capacity(updates.len());
        for map in updates {
            if !map.contains_key(key) {
                return Err(no_merge_key(map, key));
            }
            items.push(Value::Object(merge_map(Map::new(), map, &meta.schema)?));
        }
        return Ok(Merged { items, server_order });
    }

    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, item) in current.iter().enumerate() {
        if let Some(value) = item.get(key) {
            index.entry(fingerprint(value)).or_insert(i);
        }
    }
    let mut patch_ids = Vec::with_capacity(updates.len());
    for map in updates {
        let id = fingerprint(map.get(key).ok_or_else(|| no_merge_key(map, key))?);
        patch_ids.push(id.clone());
        match index.get(&id) {
            Some(&i) => {
                let live = match current[i].take() {
                    Value::Object(live) => live,
                    _ => Map::new(),
                };
                current[i] = Value::Object(merge_map(live, map, &meta.schema)?);
            }
            None => {
                index.insert(id.clone(), current.len());
                current.push(Value::Object(merge_map(Map::new(), map, &meta.schema)?));
                server_order.push(id);
            }
        }
    }

    let patch_pos = positions(patch_ids);
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for item in current {
        let Value::Object(map) = &item else {
            return Err(bad_map_type(&item));
        };
        let value = map.get(key).ok_or_else(|| no_merge_key(map, key))?;
        if patch_pos.contains_key(&fingerprint(value)) {
            patch_items.push(item);
        } else {
            server_only.push(item);
        }
    }
    let items = merge_sorted(
        sort_by(server_only, &live_pos, ident),
        sort_by(patch_items, &patch_pos, ident),
        &live_pos,
        ident,
    );
    // Upstream appends new items into the live list's backing array, so its later ordering
    // step sees them behind the survivors, as far as the original length reaches.
    server_order.truncate(live_len);
    Ok(Merged { items, server_order })
}

/// Applies `$setElementOrder/<field>` together with the patch's `<field>` list.
///
/// Returns the new list, or `None` when neither the live object nor the patch has the list.
pub(super) fn set_element_order(
    live: Option<Vec<Value>>,
    patch: Option<&[Value]>,
    order: &[Value],
    meta: &FieldMeta,
) -> Result<Option<Vec<Value>>, PatchError> {
    validate_order(patch, order, meta.merge_key)?;
    let kind = element_kind(&[live.as_deref().unwrap_or_default(), patch.unwrap_or_default()])?;
    let ident = match meta.merge_key {
        Some(key) if kind == Some(Kind::Object) => Identity::Key(key),
        _ => Identity::Whole,
    };
    let ids = |items: &[Value]| items.iter().map(|item| ident.of(item)).collect::<Vec<_>>();
    let (merged, server_order) = match (live, patch) {
        (None, None) => return Ok(None),
        (Some(live), None) => {
            let server_order = ids(&live);
            (live, server_order)
        }
        (None, Some(patch)) if meta.strategy == PatchStrategy::Merge => {
            (merge_list(Vec::new(), patch, meta)?.items, Vec::new())
        }
        (None, Some(patch)) => (patch.to_vec(), Vec::new()),
        (Some(live), Some(patch)) if meta.strategy == PatchStrategy::Merge => {
            let merged = merge_list(live, patch, meta)?;
            (merged.items, merged.server_order)
        }
        (Some(live), Some(patch)) => (patch.to_vec(), ids(&live)),
    };
    if merged.is_empty() {
        return Ok(Some(merged));
    }

    let mut order_ids = Vec::with_capacity(order.len());
    for item in order {
        match ident {
            Identity::Key(key) => {
                let Value::Object(map) = item else {
                    return Err(bad_map_type(item));
                };
                order_ids.push(fingerprint(map.get(key).ok_or_else(|| no_merge_key(map, key))?));
            }
            Identity::Whole => order_ids.push(fingerprint(item)),
        }
    }
    let order_pos = positions(order_ids);
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let id = match (ident, &item) {
            (Identity::Key(key), Value::Object(map)) => {
                fingerprint(map.get(key).ok_or_else(|| no_merge_key(map, key))?)
            }
            (Identity::Key(_), other) => return Err(bad_map_type(other)),
            (Identity::Whole, item) => fingerprint(item),
        };
        if order_pos.contains_key(&id) {
            patch_items.push(item);
        } else {
            server_only.push(item);
        }
    }
    let server_pos = positions(server_order);
    Ok(Some(merge_sorted(
        sort_by(server_only, &server_pos, ident),
        sort_by(patch_items, &order_pos, ident),
        &server_pos,
        ident,
    )))
}

/// Checks that the patch list's items appear in the `$setElementOrder` list in the same
/// relative order (upstream `validatePatchWithSetOrderList`).
fn validate_order(patch: Option<&[Value]>, order: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    let Some(patch) = patch else {
        return Ok(());
    };
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        if key.is_some() {
            let Value::Object(map) = item else {
                return Err(bad_map_type(item));
            };
            if map.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") {
                continue;
            }
        }
        items.push(item);
    }
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same_key(items[p], &order[o], key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(PatchError::Strategic(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn same_key(left: &Value, right: &Value, key: Option<&str>) -> Result<bool, PatchError> {
    let Some(key) = key else {
        return Ok(left == right);
    };
    let value = |item: &Value| -> Result<Value, PatchError> {
        let Value::Object(map) = item else {
            return Err(bad_map_type(item));
        };
        map.get(key).cloned().ok_or_else(|| no_merge_key(map, key))
    };
    Ok(value(left)? == value(right)?)
}

/// `$deleteFromPrimitiveList/<field>`: removes every occurrence of the given scalars.
pub(super) fn delete_from_primitive_list(slot: &mut Value, values: &Value) -> Result<(), PatchError> {
    let (Value::Array(items), Value::Array(values)) = (slot, values) else {
        return Err(PatchError::BadPrimitiveListFormat);
    };
    if element_kind(&[items, values])? == Some(Kind::Object) {
        return Err(PatchError::BadPrimitiveListFormat);
    }
    let delete: HashSet<String> = values.iter().map(fingerprint).collect();
    items.retain(|item| !delete.contains(&fingerprint(item)));
    Ok(())
}

/// The JSON type shared by all elements of some lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
}

/// The common element type of `lists` (upstream `sliceElementType`), `None` when all are
/// empty. Lists of lists and mixed element types are errors.
fn element_kind(lists: &[&[Value]]) -> Result<Option<Kind>, PatchError> {
    let mut first = None;
    for value in lists.iter().flat_map(|list| list.iter()) {
        let kind = match value {
            Value::Array(_) if first.is_none() => return Err(PatchError::ListOfLists),
            Value::Array(_) => return Err(not_identical(lists)),
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Object,
        };
        match first {
            None => first = Some(kind),
            Some(seen) if seen != kind => return Err(not_identical(lists)),
            Some(_) => {}
        }
    }
    Ok(first)
}

fn not_identical(lists: &[&[Value]]) -> PatchError {
    let shown: Vec<String> = lists
        .iter()
        .map(|list| Value::Array(list.to_vec()).to_string())
        .collect();
    PatchError::Strategic(format!(
        "list element types are not identical: [{}]",
        shown.join(" ")
    ))
}

/// How list elements are identified when ordering.
#[derive(Debug, Clone, Copy)]
enum Identity<'a> {
    /// By the value of the merge key (a missing key counts as `null`, as upstream).
    Key(&'a str),
    /// By the whole value (scalars).
    Whole,
}

impl Identity<'_> {
    fn of(self, item: &Value) -> String {
        match self {
            Identity::Key(key) => item.get(key).map_or_else(|| "null".to_owned(), fingerprint),
            Identity::Whole => fingerprint(item),
        }
    }
}

/// A string that is equal for equal JSON values (strings are the common case and skip
/// serialisation; no JSON text starts with `s`).
fn fingerprint(value: &Value) -> String {
    match value {
        Value::String(s) => format!("s{s}"),
        other => other.to_string(),
    }
}

/// Position of the first occurrence of each id.
fn positions(ids: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut positions = HashMap::new();
    for (i, id) in ids.into_iter().enumerate() {
        positions.entry(id).or_insert(i);
    }
    positions
}

/// Stable sort by position in an order list; items missing from it keep their relative
/// order and go last.
fn sort_by(items: Vec<Value>, order: &HashMap<String, usize>, ident: Identity<'_>) -> Vec<Value> {
    let mut keyed: Vec<(usize, Value)> = items
        .into_iter()
        .map(|item| (order.get(&ident.of(&item)).copied().unwrap_or(usize::MAX), item))
        .collect();
    keyed.sort_by_key(|(pos, _)| *pos);
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// Interleaves live-only items (`left`) with patch items (`right`), both already sorted
/// (upstream `mergeSortedSlice`): the left head goes first only when both heads have a live
/// position and the left one is earlier.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    order: &HashMap<String, usize>,
    ident: Identity<'_>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                let l = order.get(&ident.of(l));
                let r = order.get(&ident.of(r));
                matches!((l, r), (Some(l), Some(r)) if l < r)
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}
