//! JSON values as CEL values, typed as an OpenAPI schema types them (upstream's
//! `UnstructuredToVal` over a `DeclType`): `integer` is int, `number` is double even when
//! integral, `x-kubernetes-int-or-string` is whichever the value is, strings of format
//! `date-time`/`date` are timestamps, `duration` durations and `byte` bytes; object properties
//! are reachable under their escaped names (`__dot__`, `__dash__`, reserved words wrapped in `__`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde_json::Value as Json;

/// What a JSON value is, as its schema says.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TypeHint {
    /// No schema: JSON as it is (integral numbers are ints, other numbers doubles).
    #[default]
    Dynamic,
    Bool,
    Int,
    Double,
    String,
    IntOrString,
    /// `format: date-time` or `date`.
    Timestamp,
    /// `format: duration`.
    Duration,
    /// `format: byte` (base64 in JSON).
    Bytes,
    List(Box<TypeHint>),
    /// An object whose every field has the same schema (`additionalProperties`); its keys are
    /// not escaped (reached with `self['a.b']`).
    Map(Box<TypeHint>),
    /// An object with declared properties. Fields not declared are dropped unless
    /// `preserve_unknown` (then they are kept, untyped).
    Object {
        fields: BTreeMap<String, TypeHint>,
        preserve_unknown: bool,
    },
}

/// Converts a JSON value. Values that do not fit their hint (which schema validation reports
/// on its own) are converted as `Dynamic`.
pub fn from_json(value: &Json, hint: &TypeHint) -> Value {
    match (hint, value) {
        (_, Json::Null) => Value::Null,
        (TypeHint::Double, Json::Number(n)) => n.as_f64().map_or(Value::Null, Value::Float),
        (TypeHint::Int | TypeHint::IntOrString, Json::Number(n)) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => number(n),
        },
        (TypeHint::Timestamp, Json::String(s)) => timestamp(s).unwrap_or_else(|| string(s)),
        (TypeHint::Duration, Json::String(s)) => parse_duration(s).map_or_else(|| string(s), Value::Duration),
        (TypeHint::Bytes, Json::String(s)) => {
            decode_base64(s).map_or_else(|| string(s), |b| Value::Bytes(Arc::new(b)))
        }
        (TypeHint::List(item), Json::Array(items)) => {
            Value::List(Arc::new(items.iter().map(|i| from_json(i, item)).collect()))
        }
        (TypeHint::Map(item), Json::Object(map)) => {
            let entries = map
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), from_json(v, item)))
                .collect();
            Value::Map(Map {
                map: Arc::new(entries),
            })
        }
        (
            TypeHint::Object {
                fields,
                preserve_unknown,
            },
            Json::Object(map),
        ) => {
            let mut entries = HashMap::new();
            for (k, v) in map {
                let hint = match fields.get(k) {
                    Some(h) => h,
                    None if *preserve_unknown => &TypeHint::Dynamic,
                    None => continue,
                };
                if let Some(name) = escape_field_name(k) {
                    entries.insert(Key::String(Arc::new(name)), from_json(v, hint));
                }
            }
            Value::Map(Map {
                map: Arc::new(entries),
            })
        }
        (_, other) => dynamic(other),
    }
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        n.as_f64().map_or(Value::Null, Value::Float)
    }
}

fn dynamic(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => number(n),
        Json::String(s) => string(s),
        Json::Array(items) => Value::List(Arc::new(items.iter().map(dynamic).collect())),
        Json::Object(map) => {
            let entries = map
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), dynamic(v)))
                .collect();
            Value::Map(Map {
                map: Arc::new(entries),
            })
        }
    }
}

fn timestamp(s: &str) -> Option<Value> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(Value::Timestamp(t));
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let utc = chrono::FixedOffset::east_opt(0)?;
    Some(Value::Timestamp(
        date.and_hms_opt(0, 0, 0)?.and_local_timezone(utc).single()?,
    ))
}

/// A Go duration (`1h30m`, `-1.5s`, `300ms`).
pub(crate) fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += amount * scale;
    }
    if !nanos.is_finite() || nanos > i64::MAX as f64 {
        return None;
    }
    let d = chrono::Duration::nanoseconds(nanos as i64);
    Some(if negative { -d } else { d })
}

const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name a property is reachable under in CEL (upstream's `cel.Escape`), or `None` when it
/// cannot be written in CEL at all (such properties are left out).
pub fn escape_field_name(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !rest_ok {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

/// Standard base64, as Go's `encoding/json` writes `[]byte`.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}
