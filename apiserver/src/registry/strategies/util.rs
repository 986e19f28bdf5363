//! Helpers shared by the strategies: JSON access that never panics on user input, label
//! selectors (`metav1.LabelSelector` as upstream matches, validates and prints it), Kubernetes
//! quantities, Go-compatible base64 and a few upstream validators the API crate lacks.

use rudder_api::validation::{
    BadValue, FieldError, FieldPath, go_quote, inclusive_range_error, max_len_error, regex_error,
    validate_label_name, validate_labels,
};
use serde_json::{Map, Value};

pub(super) static NULL: Value = Value::Null;

/// `v.key`, or `null`.
pub(super) fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&NULL)
}

/// The string at `v.key`, `""` when absent or not a string (Go's zero value).
pub(super) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The array at `v.key`, empty when absent or not an array.
pub(super) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether a field is unset the way Go sees it after decoding: absent or `null`.
pub(super) fn unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Absent, `null` or `""`: an empty Go string.
pub(super) fn empty_str(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null)) || v.and_then(Value::as_str) == Some("")
}

/// Sets `m.key` when it is unset.
pub(super) fn default_field(m: &mut Map<String, Value>, key: &str, value: Value) {
    if unset(m.get(key)) {
        m.insert(key.to_string(), value);
    }
}

/// Sets the string `m.key` when it is unset or empty.
pub(super) fn default_str(m: &mut Map<String, Value>, key: &str, value: &str) {
    if empty_str(m.get(key)) {
        m.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// The object at `m.key`, created when unset; `None` when it holds something else.
pub(super) fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if unset(m.get(key)) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// Calls `f` on every object in the array at `m.key`.
pub(super) fn each_mut(m: &mut Map<String, Value>, key: &str, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(items) = m.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut f);
    }
}

/// An integer field (`None` when absent or not an integer).
pub(super) fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// Upstream `ValidateNonnegativeField` for an optional integer field.
pub(super) fn non_negative(v: &Value, key: &str, path: &FieldPath) -> Vec<FieldError> {
    match int(v, key) {
        Some(n) if n < 0 => vec![FieldError::invalid(
            &path.child(key),
            n,
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// `NotSupported` unless `value` is one of `valid`; `Required` when empty.
pub(super) fn one_of(v: &Value, key: &str, valid: &[&str], path: &FieldPath) -> Vec<FieldError> {
    let value = s(v, key);
    if value.is_empty() {
        vec![FieldError::required(&path.child(key), "")]
    } else if valid.contains(&value) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(&path.child(key), value, valid)]
    }
}

/// Upstream `IsValidPortNum`.
pub(super) fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Upstream `IsValidPortName` (IANA service names).
pub(super) fn port_name_errors(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Upstream `IsConfigMapKey` (keys of ConfigMaps and Secrets).
pub(super) fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push(max_len_error(253));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// A string map as Go's `%#v` prints a `map[string]string` (nil when absent).
pub(super) fn go_string_map(v: &Value) -> BadValue {
    match v.as_object() {
        Some(_) => BadValue::from_json(v),
        None => BadValue::Raw("map[string]string(nil)".to_string()),
    }
}

/// `%#v` of a `metav1.LabelSelector`, as upstream prints it in `field is immutable` errors.
pub(super) fn go_label_selector(v: &Value) -> BadValue {
    if !v.is_object() {
        return BadValue::Null;
    }
    let labels = match at(v, "matchLabels").as_object() {
        Some(m) => {
            let pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
        None => "map[string]string(nil)".to_string(),
    };
    let exprs = match at(v, "matchExpressions").as_array() {
        Some(items) => {
            let rendered: Vec<String> = items
                .iter()
                .map(|e| {
                    let values = match at(e, "values").as_array() {
                        Some(vals) => {
                            let q: Vec<String> =
                                vals.iter().map(|x| go_quote(x.as_str().unwrap_or(""))).collect();
                            format!("[]string{{{}}}", q.join(", "))
                        }
                        None => "[]string(nil)".to_string(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        go_quote(s(e, "key")),
                        go_quote(s(e, "operator"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    BadValue::Raw(format!(
        "v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}"
    ))
}

/// Whether a selector has no requirements (`{}`), which upstream rejects for workloads.
pub(super) fn selector_is_empty(sel: &Value) -> bool {
    at(sel, "matchLabels").as_object().is_none_or(Map::is_empty)
        && at(sel, "matchExpressions").as_array().is_none_or(Vec::is_empty)
}

/// Upstream `LabelSelectorAsSelector(sel).Matches(labels)`: `None` when the selector cannot be
/// converted; a null selector matches nothing, an empty one everything.
pub(super) fn selector_matches(sel: &Value, labels: &Value) -> Option<bool> {
    let sel = match sel {
        Value::Null => return Some(false),
        Value::Object(m) => m,
        _ => return None,
    };
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let mut ok = true;
    if let Some(m) = sel.get("matchLabels").filter(|v| !v.is_null()) {
        for (k, v) in m.as_object()? {
            ok &= label(k) == Some(v.as_str()?);
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").filter(|v| !v.is_null()) {
        for e in exprs.as_array()? {
            let values: Vec<&str> = arr(e, "values").iter().filter_map(Value::as_str).collect();
            let have = label(s(e, "key"));
            ok &= match s(e, "operator") {
                "In" if !values.is_empty() => have.is_some_and(|h| values.contains(&h)),
                "NotIn" if !values.is_empty() => have.is_none_or(|h| !values.contains(&h)),
                "Exists" if values.is_empty() => have.is_some(),
                "DoesNotExist" if values.is_empty() => have.is_none(),
                _ => return None,
            };
        }
    }
    Some(ok)
}

/// Upstream `ValidateLabelSelector`.
pub(super) fn validate_label_selector(sel: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(m) = at(sel, "matchLabels").as_object() {
        errs.extend(validate_labels(m, &path.child("matchLabels")));
    }
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let n = arr(e, "values").len();
        match s(e, "operator") {
            "In" | "NotIn" if n == 0 => errs.push(FieldError::required(
                &p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if n > 0 => errs.push(FieldError::forbidden(
                &p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(s(e, "key"), &p.child("key")));
    }
    errs
}

/// Go's `base64.StdEncoding.DecodeString`: `\r` and `\n` are skipped, padding is required;
/// the error is Go's `illegal base64 data at input byte N`.
pub(super) fn go_base64_decode(src: &str) -> Result<Vec<u8>, String> {
    let src = src.as_bytes();
    let err = |at: usize| Err(format!("illegal base64 data at input byte {at}"));
    let decode = |c: u8| -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let newline = |c: u8| c == b'\n' || c == b'\r';
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut buf = [0u8; 4];
        let mut len = 4;
        let mut j = 0;
        let mut done = false;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(d) = decode(c) {
                buf[j] = d;
                j += 1;
                continue;
            }
            if newline(c) {
                continue;
            }
            if c != b'=' || j < 2 {
                return err(si - 1);
            }
            if j == 2 {
                while si < src.len() && newline(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return err(src.len());
                }
                if src[si] != b'=' {
                    return err(si - 1);
                }
                si += 1;
            }
            while si < src.len() && newline(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return err(si);
            }
            len = j;
            done = true;
            break;
        }
        let val =
            u32::from(buf[0]) << 18 | u32::from(buf[1]) << 12 | u32::from(buf[2]) << 6 | u32::from(buf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..len - 1]);
        if done {
            return Ok(out);
        }
    }
}

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
