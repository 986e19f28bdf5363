//! Protobuf → JSON: decodes a message with the schema and renders the JSON upstream's Go types
//! would marshal after decoding the same bytes. The rules of `encoding/json` on the Go struct:
//! - a scalar on the wire is kept unless it is zero, `omitempty` and not a pointer (gogo writes
//!   every non-pointer scalar, zero or not; pointers only when set, so a present zero pointer
//!   means "set to zero", as `replicas: 0`);
//! - an embedded message is kept even when empty (`omitempty` never drops a Go struct);
//! - empty lists and maps are left out (`null` and absent decode alike);
//! - `json:",inline"` messages merge into their parent, `json:"-"` fields are dropped;
//! - the special types of [`Special`] take their JSON form (`Time` as RFC 3339 or `null`,
//!   `Quantity` and `IntOrString` as scalars, bytes as base64, raw JSON embedded).

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::schema::{self, Field, INLINE, Message, OMITEMPTY, POINTER, REPEATED, SKIP, Special, Ty};
use super::timestamps;
use super::wire::{self, FIXED64, LEN, Reader, VARINT, WireValue};

/// Deeper nesting than any real object has (serde_json stops at 128 too); a hostile body must
/// not overflow the stack.
const MAX_DEPTH: usize = 100;

type Result<T> = std::result::Result<T, String>;

/// The JSON form of one message's bytes.
pub(super) fn message(msg: &'static Message, data: &[u8], depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "proto: {}: exceeded max depth of {MAX_DEPTH}",
            msg.short_name()
        ));
    }
    let slots = collect(msg, data)?;
    match msg.special {
        Special::None => object(msg, &slots, depth),
        Special::Time | Special::MicroTime => {
            if data.is_empty() {
                return Ok(Value::Null);
            }
            let seconds = last_int(msg, &slots, 1)?.unwrap_or(0);
            let nanos = last_int(msg, &slots, 2)?.unwrap_or(0) as i32;
            let micro = msg.special == Special::MicroTime;
            // Upstream's `Time` unmarshal drops the nanoseconds; `MicroTime` keeps them.
            timestamps::format(seconds, if micro { i64::from(nanos) } else { 0 }, micro)
        }
        Special::Duration => Ok(Value::String(timestamps::format_duration(
            last_int(msg, &slots, 1)?.unwrap_or(0),
        ))),
        Special::Quantity => match last_string(msg, &slots, 1)? {
            // An unset Quantity is zero.
            None => Ok(Value::String("0".into())),
            // Passed through as any JSON client's quantity string is: the JSON path parses it.
            Some(s) => Ok(Value::String(s)),
        },
        Special::IntOrString => {
            let kind = last_int(msg, &slots, 1)?.unwrap_or(0);
            match kind {
                0 => Ok(Value::from(last_int(msg, &slots, 2)?.unwrap_or(0) as i32)),
                1 => Ok(Value::String(last_string(msg, &slots, 3)?.unwrap_or_default())),
                _ => Err("impossible IntOrString.Type".into()),
            }
        }
        Special::RawJson => match last_bytes(msg, &slots, 1)? {
            None | Some([]) => Ok(Value::Null),
            Some(raw) => serde_json::from_slice(raw)
                .map_err(|e| format!("{} holds bytes that are not JSON: {e}", msg.short_name())),
        },
        Special::Items => {
            let items = repeated(msg, &slots, 1, depth)?;
            Ok(if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            })
        }
        Special::SchemaOrArray => {
            let schemas = repeated(msg, &slots, 2, depth)?;
            if !schemas.is_empty() {
                return Ok(Value::Array(schemas));
            }
            Ok(single_message(msg, &slots, 1, depth)?.unwrap_or(Value::Null))
        }
        Special::SchemaOrBool => match single_message(msg, &slots, 2, depth)? {
            Some(schema) => Ok(schema),
            None => Ok(Value::Bool(last_int(msg, &slots, 1)?.unwrap_or(0) != 0)),
        },
        Special::SchemaOrStringArray => {
            let property = repeated(msg, &slots, 2, depth)?;
            if !property.is_empty() {
                return Ok(Value::Array(property));
            }
            Ok(single_message(msg, &slots, 1, depth)?.unwrap_or(Value::Null))
        }
    }
}

/// Every occurrence of every known field, by field index; unknown fields are skipped (as
/// upstream's decoders do), wrong wire types refused.
fn collect<'a>(msg: &'static Message, data: &'a [u8]) -> Result<Vec<Vec<WireValue<'a>>>> {
    let mut slots = vec![Vec::new(); msg.fields.len()];
    let mut r = Reader::new(data);
    while !r.is_empty() {
        let (number, value) = r.field(msg.short_name())?;
        let Some((index, field)) = msg.field(number) else {
            continue;
        };
        let ok = match field.ty {
            Ty::String | Ty::Bytes | Ty::Message(_) | Ty::MapString | Ty::MapBytes | Ty::MapMessage(_) => {
                value.wire_type() == LEN
            }
            Ty::Bool | Ty::Int32 | Ty::Int64 => {
                value.wire_type() == VARINT || (field.has(REPEATED) && value.wire_type() == LEN)
            }
            Ty::Double => value.wire_type() == FIXED64 || (field.has(REPEATED) && value.wire_type() == LEN),
        };
        if !ok {
            return Err(format!(
                "proto: wrong wireType = {} for field {}",
                value.wire_type(),
                field_name(msg, field)
            ));
        }
        slots[index].push(value);
    }
    Ok(slots)
}

fn field_name(msg: &Message, field: &Field) -> String {
    if field.json.is_empty() {
        format!("{}.{}", msg.short_name(), field.number)
    } else {
        field.json.to_string()
    }
}

/// A plain message: an object of its fields.
fn object(msg: &'static Message, slots: &[Vec<WireValue<'_>>], depth: usize) -> Result<Value> {
    let mut out = Map::new();
    let mut inline = Vec::new();
    for (field, values) in msg.fields.iter().zip(slots) {
        if values.is_empty() || field.has(SKIP) {
            continue;
        }
        match field.ty {
            Ty::MapString | Ty::MapBytes | Ty::MapMessage(_) => {
                let mut map = Map::new();
                for v in values {
                    if let WireValue::Len(entry) = v {
                        let (key, value) = map_entry(field, entry, depth)?;
                        map.insert(key, value);
                    }
                }
                if !map.is_empty() {
                    out.insert(field.json.into(), Value::Object(map));
                }
            }
            _ if field.has(REPEATED) => {
                let items = values_of(field, values, depth)?;
                if !items.is_empty() {
                    out.insert(field.json.into(), Value::Array(items));
                }
            }
            Ty::Message(index) => {
                let sub = schema::message(index);
                let value = message(sub, &concat(values), depth + 1)?;
                if field.has(INLINE) {
                    inline.push(value);
                } else if !(sub.special == Special::Items
                    && value.is_null()
                    && field.has(OMITEMPTY)
                    && !field.has(POINTER))
                {
                    out.insert(field.json.into(), value);
                }
            }
            _ => {
                let Some(last) = values.last() else { continue };
                let value = scalar(field, *last)?;
                if field.has(POINTER) || !field.has(OMITEMPTY) || !is_zero(&value) {
                    out.insert(field.json.into(), value);
                }
            }
        }
    }
    // Go gives the outer struct's fields precedence over promoted ones.
    for value in inline {
        if let Value::Object(fields) = value {
            for (k, v) in fields {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A non-repeated embedded message occurring several times is merged, which for protobuf is
/// decoding the concatenation.
fn concat(values: &[WireValue<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if let WireValue::Len(b) = v {
            out.extend_from_slice(b);
        }
    }
    out
}

/// The elements of a repeated field, packed or not.
fn values_of(field: &Field, values: &[WireValue<'_>], depth: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for v in values {
        match (field.ty, *v) {
            (Ty::Message(index), WireValue::Len(b)) => {
                out.push(message(schema::message(index), b, depth + 1)?)
            }
            (Ty::String | Ty::Bytes, v) => out.push(scalar(field, v)?),
            (Ty::Bool | Ty::Int32 | Ty::Int64, WireValue::Len(b)) => {
                for n in wire::packed_varints(b)? {
                    out.push(scalar(field, WireValue::Varint(n))?);
                }
            }
            (Ty::Double, WireValue::Len(b)) => {
                for n in wire::packed_fixed64(b)? {
                    out.push(scalar(field, WireValue::Fixed64(n))?);
                }
            }
            (_, v) => out.push(scalar(field, v)?),
        }
    }
    Ok(out)
}

fn scalar(field: &Field, value: WireValue<'_>) -> Result<Value> {
    Ok(match (field.ty, value) {
        (Ty::String, WireValue::Len(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Ty::Bytes, WireValue::Len(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        (Ty::Bool, WireValue::Varint(n)) => Value::Bool(n != 0),
        (Ty::Int32, WireValue::Varint(n)) => Value::from(n as i32),
        (Ty::Int64, WireValue::Varint(n)) => Value::from(n as i64),
        (Ty::Double, WireValue::Fixed64(n)) => {
            let f = f64::from_bits(n);
            Value::Number(Number::from_f64(f).ok_or_else(|| format!("json: unsupported value: {f}"))?)
        }
        (_, v) => {
            return Err(format!(
                "proto: wrong wireType = {} for field {}",
                v.wire_type(),
                field.json
            ));
        }
    })
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// One `map<string, V>` entry: key = 1, value = 2; either may be missing (the zero value).
fn map_entry(field: &Field, entry: &[u8], depth: usize) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    let mut r = Reader::new(entry);
    while !r.is_empty() {
        match r.field(field.json)? {
            (1, WireValue::Len(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (2, WireValue::Len(b)) => value = Some(b),
            (1 | 2, v) => {
                return Err(format!(
                    "proto: wrong wireType = {} for field {}",
                    v.wire_type(),
                    field.json
                ));
            }
            _ => {}
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let value = match field.ty {
        Ty::MapString => Value::String(String::from_utf8_lossy(value.unwrap_or_default()).into_owned()),
        Ty::MapBytes => Value::String(b64.encode(value.unwrap_or_default())),
        Ty::MapMessage(index) => message(schema::message(index), value.unwrap_or_default(), depth + 1)?,
        _ => return Err(format!("proto: {} is not a map", field.json)),
    };
    Ok((key, value))
}

fn slot<'s, 'a>(msg: &Message, slots: &'s [Vec<WireValue<'a>>], number: u32) -> &'s [WireValue<'a>] {
    match msg.field(number) {
        Some((index, _)) => &slots[index],
        None => &[],
    }
}

fn last_int(msg: &Message, slots: &[Vec<WireValue<'_>>], number: u32) -> Result<Option<i64>> {
    match slot(msg, slots, number).last() {
        None => Ok(None),
        Some(WireValue::Varint(n)) => Ok(Some(*n as i64)),
        Some(v) => Err(format!(
            "proto: wrong wireType = {} for field {number}",
            v.wire_type()
        )),
    }
}

fn last_bytes<'a>(msg: &Message, slots: &[Vec<WireValue<'a>>], number: u32) -> Result<Option<&'a [u8]>> {
    match slot(msg, slots, number).last() {
        None => Ok(None),
        Some(WireValue::Len(b)) => Ok(Some(b)),
        Some(v) => Err(format!(
            "proto: wrong wireType = {} for field {number}",
            v.wire_type()
        )),
    }
}

fn last_string(msg: &Message, slots: &[Vec<WireValue<'_>>], number: u32) -> Result<Option<String>> {
    Ok(last_bytes(msg, slots, number)?.map(|b| String::from_utf8_lossy(b).into_owned()))
}

fn repeated(msg: &Message, slots: &[Vec<WireValue<'_>>], number: u32, depth: usize) -> Result<Vec<Value>> {
    match msg.field(number) {
        Some((index, field)) => values_of(field, &slots[index], depth),
        None => Ok(Vec::new()),
    }
}

fn single_message(
    msg: &Message,
    slots: &[Vec<WireValue<'_>>],
    number: u32,
    depth: usize,
) -> Result<Option<Value>> {
    match msg.field(number) {
        Some((
            index,
            Field {
                ty: Ty::Message(sub), ..
            },
        )) if !slots[index].is_empty() => Ok(Some(message(
            schema::message(*sub),
            &concat(&slots[index]),
            depth + 1,
        )?)),
        _ => Ok(None),
    }
}
