//! Path elements: one step from a value to a child (`sigs.k8s.io/structured-merge-diff`
//! `fieldpath/element.go`, `path.go`, `serialize-pe.go`).
//!
//! A step is a field name (`f:`), the key fields of an associative-list item (`k:`), the value
//! of a set item (`v:`) or an index into an atomic list (`i:`, only ever read, never produced).

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::Value;

use crate::validation::{go_format_float, go_quote};

/// One step of a field path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (`f:<name>`).
    Field(String),
    /// The item of a keyed list whose key fields have these values (`k:{...}`), sorted by name.
    Key(Vec<(String, Value)>),
    /// The item of a set with this value (`v:<json>`).
    Value(Value),
    /// The item at this index of an atomic list (`i:<n>`).
    Index(i64),
}

/// Why a FieldsV1 key could not be read as a path element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeParseError {
    /// A `x:` prefix this version does not know: upstream drops such entries silently.
    UnknownType,
    /// A malformed key.
    Invalid(String),
}

impl PathElement {
    /// A field step.
    pub fn field(name: impl Into<String>) -> Self {
        PathElement::Field(name.into())
    }

    /// A key step from `(name, value)` pairs, sorted as upstream sorts them.
    pub fn key<S: Into<String>>(fields: impl IntoIterator<Item = (S, Value)>) -> Self {
        let mut fields: Vec<(String, Value)> = fields.into_iter().map(|(n, v)| (n.into(), v)).collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    /// The field name, when this is a field step.
    pub fn as_field(&self) -> Option<&str> {
        match self {
            PathElement::Field(name) => Some(name),
            _ => None,
        }
    }

    /// The FieldsV1 key of this step: `f:name`, `k:{"name":"web"}`, `v:"x"`, `i:3`.
    pub fn to_key_string(&self) -> String {
        let mut out = String::new();
        self.write_key_string(&mut out);
        out
    }

    pub(crate) fn write_key_string(&self, out: &mut String) {
        match self {
            PathElement::Field(name) => {
                out.push_str("f:");
                out.push_str(name);
            }
            PathElement::Key(fields) => {
                out.push_str("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_json_string(name, out);
                    out.push(':');
                    write_go_json(value, out);
                }
                out.push('}');
            }
            PathElement::Value(value) => {
                out.push_str("v:");
                write_go_json(value, out);
            }
            PathElement::Index(i) => {
                let _ = write!(out, "i:{i}");
            }
        }
    }

    /// Parses a FieldsV1 key (`DeserializePathElement`).
    pub(crate) fn parse_key(s: &str) -> Result<Self, PeParseError> {
        let b = s.as_bytes();
        if b.len() < 2 {
            return Err(PeParseError::Invalid("key must be 2 characters long:".into()));
        }
        if b[1] != b':' {
            return Err(PeParseError::Invalid(format!("missing colon: {s}")));
        }
        let rest = &s[2..];
        match b[0] {
            b'f' => Ok(PathElement::Field(rest.to_string())),
            b'v' => serde_json::from_str::<Value>(rest)
                .map(PathElement::Value)
                .map_err(|e| PeParseError::Invalid(e.to_string())),
            b'k' => {
                let value: Value =
                    serde_json::from_str(rest).map_err(|e| PeParseError::Invalid(e.to_string()))?;
                let Value::Object(map) = value else {
                    return Err(PeParseError::Invalid(format!("expected a JSON object in {s}")));
                };
                Ok(PathElement::key(map))
            }
            b'i' => rest
                .parse::<i64>()
                .map(PathElement::Index)
                .map_err(|e| PeParseError::Invalid(e.to_string())),
            _ => Err(PeParseError::UnknownType),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    /// Upstream's order: fields, then keys, then values, then indices.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// Upstream's `PathElement.String()`: `.name`, `[name="web"]`, `[="x"]`, `[3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", go_value_string(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(value) => write!(f, "[={}]", go_value_string(value)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path as upstream's `Path.String()`: `.spec.containers[name="web"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    let mut out = String::new();
    for pe in path {
        let _ = write!(out, "{pe}");
    }
    out
}

/// Upstream's `value.Compare`: numbers (compared numerically), then strings, booleans, lists,
/// maps and null.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (a, b) in x.iter().zip(y) {
                let c = compare_values(a, b);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xk: Vec<&String> = x.keys().collect();
            let mut yk: Vec<&String> = y.keys().collect();
            xk.sort();
            yk.sort();
            for (a, b) in xk.iter().zip(&yk) {
                let c = a
                    .cmp(b)
                    .then_with(|| compare_values(&x[a.as_str()], &y[b.as_str()]));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xk.len().cmp(&yk.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Upstream's `value.Equals`: deep equality where an integer equals the same float.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Upstream's `value.ToString`, used in conflict paths: strings Go-quoted, floats as `%v`.
fn go_value_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => go_format_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_value_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.iter()
                .map(|k| format!("{k}={}", go_value_string(&map[k.as_str()])))
                .collect()
        }
    }
}

/// Writes `v` as Go's `encoding/json` would: object keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, floats in Go's format.
pub(crate) fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                let abs = f.abs();
                if abs == 0.0 || (1e-6..1e21).contains(&abs) {
                    let _ = write!(out, "{f}");
                } else {
                    let sci = format!("{f:e}");
                    match sci.split_once('e') {
                        Some((m, e)) if !e.starts_with('-') => {
                            let _ = write!(out, "{m}e+{e}");
                        }
                        _ => out.push_str(&sci),
                    }
                }
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => write_go_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(k, out);
                out.push(':');
                write_go_json(&map[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-safe escaping).
pub(crate) fn write_go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
