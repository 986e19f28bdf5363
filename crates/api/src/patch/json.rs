//! JSON patch, RFC 6902 (`application/json-patch+json`).
//!
//! Semantics and messages follow `gopkg.in/evanphx/json-patch.v4`, which the apiserver uses,
//! including its leniencies that clients may rely on:
//! - `replace` of a missing object member adds it;
//! - `test` of a missing member passes when the expected value is `null`;
//! - `copy` from a missing object member copies `null`;
//! - `add` and `remove` accept negative array indices counted from the end;
//! - the empty path (the whole document) is not addressable.
//!
//! Limits from the apiserver: at most [`MAX_JSON_PATCH_OPERATIONS`] operations (413) and at
//! most [`MAX_JSON_PATCH_COPY_BYTES`] bytes added by `copy` operations (422).

use serde_json::{Map, Value};

use super::{MAX_DEPTH, PatchError, check_depth, nesting_depth, remove_ordered};

/// Most operations one JSON patch may hold (`maxJSONPatchOperations` upstream).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Most bytes `copy` operations may add in one patch (upstream's `JSONPatchMaxCopyBytes`,
/// which defaults to the 3 MiB request body limit).
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Applies an RFC 6902 patch (a JSON array of operations) to `target`.
///
/// A patch that is not an array fails with [`PatchError::JsonPatchDecode`] (400); `null`
/// is an empty patch, as upstream decodes it. A failing operation gives
/// [`PatchError::JsonPatchApply`] (422) and the target is left as it was.
pub fn apply_json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    check_depth(target)?;
    check_depth(patch)?;
    let ops: &[Value] = match patch {
        Value::Array(ops) => ops,
        Value::Null => &[],
        other => {
            return Err(PatchError::JsonPatchDecode(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                go_kind(other)
            )));
        }
    };
    let empty = Map::new();
    let mut decoded = Vec::with_capacity(ops.len().min(MAX_JSON_PATCH_OPERATIONS));
    for op in ops {
        match op {
            Value::Object(op) => decoded.push(Op(op)),
            Value::Null => decoded.push(Op(&empty)),
            other => {
                return Err(PatchError::JsonPatchDecode(format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                    go_kind(other)
                )));
            }
        }
    }
    if decoded.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: decoded.len(),
        });
    }
    let mut doc = target.clone();
    let mut copied = 0;
    for op in decoded {
        op.apply(&mut doc, &mut copied)
            .map_err(PatchError::JsonPatchApply)?;
    }
    Ok(doc)
}

/// The name Go's decoder uses for a JSON value's type in unmarshal errors.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One operation object.
struct Op<'a>(&'a Map<String, Value>);

const MISSING: &str = "missing value";

impl Op<'_> {
    fn kind(&self) -> &str {
        self.0.get("op").and_then(Value::as_str).unwrap_or("unknown")
    }

    fn string(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    fn apply(&self, doc: &mut Value, copied: &mut usize) -> Result<(), String> {
        match self.kind() {
            "add" => self.add(doc),
            "remove" => self.remove(doc),
            "replace" => self.replace(doc),
            "move" => self.move_(doc),
            "test" => self.test(doc),
            "copy" => self.copy(doc, copied),
            other => Err(format!("Unexpected kind: {other}")),
        }
    }

    fn add(&self, doc: &mut Value) -> Result<(), String> {
        let path = self
            .string("path")
            .ok_or(format!("add operation failed to decode path: {MISSING}"))?;
        let value = self.0.get("value").cloned().unwrap_or(Value::Null);
        fits(path, &value)?;
        let (parent, key) = locate(doc, path).ok_or_else(|| {
            format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
        })?;
        insert(parent, &key, value).map_err(|e| format!("error in add for path: '{path}': {e}"))
    }

    fn remove(&self, doc: &mut Value) -> Result<(), String> {
        let path = self
            .string("path")
            .ok_or(format!("remove operation failed to decode path: {MISSING}"))?;
        let (parent, key) = locate(doc, path).ok_or_else(|| {
            format!("remove operation does not apply: doc is missing path: \"{path}\": {MISSING}")
        })?;
        remove(parent, &key)
            .map(drop)
            .map_err(|e| format!("error in remove for path: '{path}': {e}"))
    }

    fn replace(&self, doc: &mut Value) -> Result<(), String> {
        let path = self.string("path").ok_or(format!(
            "replace operation failed to decode path: operation missing path field: {MISSING}"
        ))?;
        let value = self.0.get("value").cloned().unwrap_or(Value::Null);
        fits(path, &value)?;
        let (parent, key) = locate(doc, path).ok_or_else(|| {
            format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
        })?;
        let missing_key =
            || format!("replace operation does not apply: doc is missing key: {path}: {MISSING}");
        match parent {
            Value::Object(map) => {
                map.insert(key, value);
            }
            Value::Array(items) => {
                let index = array_index(&key, items.len()).map_err(|_| missing_key())?;
                items[index] = value;
            }
            _ => return Err(missing_key()),
        }
        Ok(())
    }

    fn move_(&self, doc: &mut Value) -> Result<(), String> {
        let from = self.string("from").ok_or(format!(
            "move operation failed to decode from: operation, missing from field: {MISSING}"
        ))?;
        let (parent, key) = locate(doc, from).ok_or_else(|| {
            format!("move operation does not apply: doc is missing from path: {from}: {MISSING}")
        })?;
        if let Value::Array(items) = parent {
            array_index(&key, items.len()).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
        }
        let value = remove(parent, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
        let path = self.string("path").ok_or(format!(
            "move operation failed to decode path: operation missing path field: {MISSING}"
        ))?;
        fits(path, &value)?;
        let (parent, key) = locate(doc, path).ok_or_else(|| {
            format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
        })?;
        insert(parent, &key, value).map_err(|e| format!("error in move for path: '{path}': {e}"))
    }

    fn test(&self, doc: &mut Value) -> Result<(), String> {
        let path = self.string("path").ok_or(format!(
            "test operation failed to decode path: operation missing path field: {MISSING}"
        ))?;
        let (parent, key) = locate(doc, path)
            .ok_or_else(|| format!("test operation does not apply: is missing path: {path}: {MISSING}"))?;
        let actual = get(parent, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
        let expected = self.0.get("value");
        let passed = match (actual, expected) {
            (None | Some(Value::Null), None | Some(Value::Null)) => true,
            (Some(actual), Some(expected)) => actual == expected,
            _ => false,
        };
        if passed {
            Ok(())
        } else {
            Err(format!("testing value {path} failed: test failed"))
        }
    }

    fn copy(&self, doc: &mut Value, copied: &mut usize) -> Result<(), String> {
        let from = self.string("from").ok_or(format!(
            "copy operation failed to decode from: operation, missing from field: {MISSING}"
        ))?;
        let (parent, key) = locate(doc, from).ok_or_else(|| {
            format!("copy operation does not apply: doc is missing from path: {from}: {MISSING}")
        })?;
        let value = get(parent, &key)
            .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
            .cloned()
            .unwrap_or(Value::Null);
        let path = self
            .string("path")
            .ok_or(format!("copy operation failed to decode path: {MISSING}"))?;
        fits(path, &value)?;
        let (parent, key) = locate(doc, path).ok_or_else(|| {
            format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
        })?;
        if !value.is_null() {
            *copied += serde_json::to_vec(&value).map_or(0, |bytes| bytes.len());
        }
        if *copied > MAX_JSON_PATCH_COPY_BYTES {
            return Err(format!(
                "Unable to complete the copy, the accumulated size increase of copy is {}, exceeding the limit {}",
                copied, MAX_JSON_PATCH_COPY_BYTES
            ));
        }
        insert(parent, &key, value).map_err(|e| format!("error while adding value during copy: {e}"))
    }
}

/// Finds the container holding the last token of `path` and returns it with that token.
///
/// `None` when the pointer is malformed, or an intermediate member is missing or is not a
/// container.
fn locate<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let mut tokens: Vec<String> = path.strip_prefix('/')?.split('/').map(unescape).collect();
    let key = tokens.pop()?;
    let mut current = doc;
    for token in &tokens {
        current = match current {
            Value::Object(map) => map.get_mut(token.as_str())?,
            Value::Array(items) => {
                let index = array_index(token, items.len()).ok()?;
                items.get_mut(index)?
            }
            _ => return None,
        };
    }
    (current.is_object() || current.is_array()).then_some((current, key))
}

/// Refuses to place `value` at `path` when the document would then nest deeper than
/// [`MAX_DEPTH`], so a patch can never build a document the recursive code elsewhere could
/// not handle.
fn fits(path: &str, value: &Value) -> Result<(), String> {
    let levels = path.matches('/').count();
    if levels + nesting_depth(value, MAX_DEPTH + 1) > MAX_DEPTH {
        return Err(format!(
            "the value at {path} would nest deeper than {MAX_DEPTH} levels"
        ));
    }
    Ok(())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Parses an array index the way Go's `strconv.Atoi` does.
fn parse_index(token: &str) -> Result<i64, String> {
    token
        .parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {token:?}: invalid syntax"))
}

fn invalid_index(index: i64) -> String {
    format!("Unable to access invalid index: {index}: invalid index referenced")
}

/// An index that must name an existing element.
fn array_index(token: &str, len: usize) -> Result<usize, String> {
    let index = parse_index(token)?;
    usize::try_from(index)
        .ok()
        .filter(|i| *i < len)
        .ok_or_else(|| invalid_index(index))
}

fn get<'a>(parent: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match parent {
        Value::Object(map) => Ok(map.get(key)),
        Value::Array(items) => Ok(items.get(array_index(key, items.len())?)),
        _ => Err(MISSING.to_owned()),
    }
}

fn insert(parent: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(items) if key == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => {
            let index =
                parse_index(key).map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let slots = i64::try_from(items.len()).unwrap_or(i64::MAX).saturating_add(1);
            if index >= slots || index < -slots {
                return Err(invalid_index(index));
            }
            let index = if index < 0 { index + slots } else { index };
            items.insert(usize::try_from(index).map_err(|_| invalid_index(index))?, value);
            Ok(())
        }
        _ => Err(MISSING.to_owned()),
    }
}

fn remove(parent: &mut Value, key: &str) -> Result<Value, String> {
    match parent {
        Value::Object(map) => remove_ordered(map, key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Value::Array(items) => {
            let index = parse_index(key)?;
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            if index >= len || index < -len {
                return Err(invalid_index(index));
            }
            let index = if index < 0 { index + len } else { index };
            Ok(items.remove(usize::try_from(index).map_err(|_| invalid_index(index))?))
        }
        _ => Err(MISSING.to_owned()),
    }
}
