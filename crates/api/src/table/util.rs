//! Helpers shared by the printers: tolerant JSON accessors, column builders, and upstream's
//! label / selector / container formatting.

use serde_json::Value;

use super::ColumnDefinition;
use super::time::since;

pub(crate) const NONE: &str = "<none>";
pub(crate) const UNSET: &str = "<unset>";

pub(crate) const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const CREATION_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub(crate) const CONTAINERS_DESC: &str = "Names of each container in the template.";
pub(crate) const IMAGES_DESC: &str = "Images referenced by each container in the template.";

/// A priority-0 column with no format.
pub(crate) fn col(name: &str, ty: &str, description: &str) -> ColumnDefinition {
    ColumnDefinition {
        name: name.to_string(),
        type_: ty.to_string(),
        format: String::new(),
        description: description.to_string(),
        priority: 0,
    }
}

/// A priority-1 (`-o wide` only) column.
pub(crate) fn wide(name: &str, ty: &str, description: &str) -> ColumnDefinition {
    ColumnDefinition {
        priority: 1,
        ..col(name, ty, description)
    }
}

pub(crate) fn name_col() -> ColumnDefinition {
    ColumnDefinition {
        format: "name".to_string(),
        ..col("Name", "string", NAME_DESC)
    }
}

pub(crate) fn age_col() -> ColumnDefinition {
    col("Age", "string", CREATION_DESC)
}

/// Builds a `Vec<Value>` of cells from heterogeneous values.
macro_rules! cells {
    ($($e:expr),* $(,)?) => { vec![$(::serde_json::Value::from($e)),*] };
}
pub(crate) use cells;

/// Walks `path` through nested objects.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.as_object()?.get(*key))
}

/// Like [`get`], but treats `null` as absent (a nil pointer upstream).
pub(crate) fn present<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    get(v, path).filter(|x| !x.is_null())
}

pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// A string field, `""` when absent or not a string.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

pub(crate) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|_| i64::MAX))
        // Float-to-int `as` saturates and maps NaN to 0: no panic on any input.
        .or_else(|| v.as_f64().map(|f| f as i64))
}

pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    get(v, path).and_then(as_int)
}

/// An integer field, 0 when absent.
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool(v, path).unwrap_or(false)
}

/// An array field, empty when absent.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Number of entries of a map or list field (Go `len()`), 0 when absent.
pub(crate) fn len_at(v: &Value, path: &[&str]) -> usize {
    match get(v, path) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

pub(crate) fn name(obj: &Value) -> String {
    str_at(obj, &["metadata", "name"]).to_string()
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(crate) fn age(obj: &Value, now: i64) -> String {
    since(get(obj, &["metadata", "creationTimestamp"]), now)
}

/// `metadata.deletionTimestamp != nil`.
pub(crate) fn is_deleting(obj: &Value) -> bool {
    present(obj, &["metadata", "deletionTimestamp"]).is_some()
}

pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    get(obj, &["metadata", "annotations"])
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Go's `fmt` `%v` of a scalar JSON value, used where upstream prints a string field that a
/// user may have stored with another JSON type.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `labels.FormatLabels`: sorted `k=v` pairs joined by `,`, or `<none>`.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object) else {
        return NONE.to_string();
    };
    if m.is_empty() {
        return NONE.to_string();
    }
    let mut pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", scalar_text(v))).collect();
    pairs.sort();
    pairs.join(",")
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: `Ok("")` for a nil or empty selector,
/// `Err(())` for an invalid one.
pub(crate) fn label_selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    let sel = sel.as_object().ok_or(())?;
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(ml) = sel.get("matchLabels").filter(|v| !v.is_null()) {
        for (k, v) in ml.as_object().ok_or(())? {
            let v = v.as_str().ok_or(())?;
            reqs.push((k.clone(), format!("{k}={v}")));
        }
    }
    for expr in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let key = str_at(expr, &["key"]);
        if key.is_empty() {
            return Err(());
        }
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .map(|v| v.as_str().ok_or(()))
            .collect::<Result<_, _>>()?;
        values.sort_unstable();
        let text = match str_at(expr, &["operator"]) {
            op @ ("In" | "NotIn") => {
                if values.is_empty() {
                    return Err(());
                }
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(","))
}

/// `metav1.FormatLabelSelector`: `<none>` when empty, `<error>` when invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector_string(sel) {
        Ok(s) if s.is_empty() => NONE.to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// `layoutContainerCells`: container names and images, each joined by `,`.
pub(crate) fn layout_containers(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// `intstr.IntOrString.String()`.
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => as_int(other).map_or_else(|| scalar_text(other), |i| i.to_string()),
    }
}

/// `strings.Join(list, ",")` plus ` + N more...`, or `<unset>` for an empty list
/// (upstream `listWithMoreString`).
pub(crate) fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(max));
    }
    if ret.is_empty() {
        return UNSET.to_string();
    }
    ret
}

/// First non-empty string.
pub(crate) fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// Upstream `loadBalancerStatusStringer` (server side prints wide, so never clipped): the
/// sorted, de-duplicated IPs (or hostnames) of `status.loadBalancer.ingress`.
pub(crate) fn load_balancer_ingress(obj: &Value) -> String {
    let mut set: Vec<&str> = arr_at(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            Some(first_non_empty(ip, host)).filter(|s| !s.is_empty())
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set.join(",")
}
