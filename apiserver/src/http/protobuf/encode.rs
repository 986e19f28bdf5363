//! JSON → protobuf: the reverse of [`super::decode`], writing fields in field-number order as
//! upstream's encoders do. Absent fields and `null`s are not written (except a `null` struct not
//! behind a pointer, which gogo writes empty); unknown JSON fields are dropped, as upstream's JSON
//! decoding drops them.

use base64::Engine;
use serde_json::{Map, Value};

use super::schema::{self, Field, INLINE, Message, POINTER, REPEATED, SKIP, Special, Ty};
use super::timestamps;
use super::wire::{put_fixed64_field, put_len, put_varint_field};

const MAX_DEPTH: usize = 100;

type Result<T> = std::result::Result<T, String>;

/// The protobuf bytes of one message from its JSON form.
pub(super) fn message(msg: &'static Message, value: &Value, depth: usize) -> Result<Vec<u8>> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: exceeded max depth of {MAX_DEPTH}", msg.short_name()));
    }
    let mut out = Vec::new();
    if value.is_null() {
        return Ok(out);
    }
    match msg.special {
        Special::None => {
            let Value::Object(obj) = value else {
                return Err(mismatch(msg.short_name(), "an object", value));
            };
            object(msg, obj, &mut out, depth)?;
        }
        Special::Time | Special::MicroTime => {
            let s = value
                .as_str()
                .ok_or_else(|| mismatch(msg.short_name(), "a string", value))?;
            let (seconds, nanos) = timestamps::parse(s)?;
            put_varint_field(&mut out, 1, seconds as u64);
            // Upstream's `Time` keeps whole seconds only.
            if msg.special == Special::MicroTime && nanos != 0 {
                put_varint_field(&mut out, 2, i64::from(nanos) as u64);
            }
        }
        Special::Duration => {
            let s = value
                .as_str()
                .ok_or_else(|| mismatch(msg.short_name(), "a string", value))?;
            put_varint_field(&mut out, 1, timestamps::parse_duration(s)? as u64);
        }
        Special::Quantity => {
            let s = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => return Err(mismatch("Quantity", "a string", other)),
            };
            put_len(&mut out, 1, s.as_bytes());
        }
        Special::IntOrString => match value {
            Value::String(s) => {
                put_varint_field(&mut out, 1, 1);
                put_varint_field(&mut out, 2, 0);
                put_len(&mut out, 3, s.as_bytes());
            }
            other => {
                let n = int_of(other)
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| mismatch("IntOrString", "an int32 or a string", other))?;
                put_varint_field(&mut out, 1, 0);
                put_varint_field(&mut out, 2, i64::from(n) as u64);
                put_len(&mut out, 3, b"");
            }
        },
        Special::RawJson => {
            let raw = serde_json::to_vec(value).map_err(|e| e.to_string())?;
            put_len(&mut out, 1, &raw);
        }
        Special::Items => {
            let Value::Array(items) = value else {
                return Err(mismatch(msg.short_name(), "an array", value));
            };
            let field = field_of(msg, 1)?;
            for item in items {
                scalar(field, item, &mut out)?;
            }
        }
        Special::SchemaOrArray => match value {
            Value::Array(schemas) => {
                let field = field_of(msg, 2)?;
                for s in schemas {
                    put_len(&mut out, 2, &message(sub_message(field)?, s, depth + 1)?);
                }
            }
            other => put_len(
                &mut out,
                1,
                &message(sub_message(field_of(msg, 1)?)?, other, depth + 1)?,
            ),
        },
        Special::SchemaOrBool => match value {
            Value::Bool(b) => put_varint_field(&mut out, 1, u64::from(*b)),
            other => {
                put_varint_field(&mut out, 1, 1);
                put_len(
                    &mut out,
                    2,
                    &message(sub_message(field_of(msg, 2)?)?, other, depth + 1)?,
                );
            }
        },
        Special::SchemaOrStringArray => match value {
            Value::Array(items) => {
                let field = field_of(msg, 2)?;
                for item in items {
                    scalar(field, item, &mut out)?;
                }
            }
            other => put_len(
                &mut out,
                1,
                &message(sub_message(field_of(msg, 1)?)?, other, depth + 1)?,
            ),
        },
    }
    Ok(out)
}

fn object(msg: &'static Message, obj: &Map<String, Value>, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    let mut fields: Vec<&Field> = msg.fields.iter().collect();
    fields.sort_by_key(|f| f.number);
    for field in fields {
        if field.has(SKIP) {
            continue;
        }
        if field.has(INLINE) {
            // The inlined message reads its fields from this same object.
            let mut inner = Vec::new();
            object(sub_message(field)?, obj, &mut inner, depth + 1)?;
            put_len(out, field.number, &inner);
            continue;
        }
        let value = match obj.get(field.json) {
            None => continue,
            Some(Value::Null) => {
                // Go's JSON decoding leaves a struct as it is for `null`, and gogo writes every
                // struct that is not behind a pointer: the zero `creationTimestamp` stays.
                if let Ty::Message(index) = field.ty
                    && !field.has(REPEATED | POINTER)
                    && schema::message(index).special != Special::Items
                {
                    put_len(out, field.number, &[]);
                }
                continue;
            }
            Some(v) => v,
        };
        match field.ty {
            Ty::MapString | Ty::MapBytes | Ty::MapMessage(_) => {
                let Value::Object(map) = value else {
                    return Err(mismatch(field.json, "an object", value));
                };
                for (key, v) in map {
                    let mut entry = Vec::new();
                    put_len(&mut entry, 1, key.as_bytes());
                    match field.ty {
                        Ty::MapMessage(index) => {
                            put_len(&mut entry, 2, &message(schema::message(index), v, depth + 1)?);
                        }
                        Ty::MapBytes => put_len(&mut entry, 2, &bytes(field.json, v)?),
                        _ => put_len(&mut entry, 2, string(field.json, v)?.as_bytes()),
                    }
                    put_len(out, field.number, &entry);
                }
            }
            _ if field.has(REPEATED) => {
                let Value::Array(items) = value else {
                    return Err(mismatch(field.json, "an array", value));
                };
                for item in items {
                    match field.ty {
                        Ty::Message(index) => {
                            put_len(
                                out,
                                field.number,
                                &message(schema::message(index), item, depth + 1)?,
                            );
                        }
                        _ => scalar(field, item, out)?,
                    }
                }
            }
            Ty::Message(index) => put_len(
                out,
                field.number,
                &message(schema::message(index), value, depth + 1)?,
            ),
            _ => scalar(field, value, out)?,
        }
    }
    Ok(())
}

fn scalar(field: &Field, value: &Value, out: &mut Vec<u8>) -> Result<()> {
    let n = field.number;
    match field.ty {
        Ty::String => put_len(out, n, string(field.json, value)?.as_bytes()),
        Ty::Bytes => put_len(out, n, &bytes(field.json, value)?),
        Ty::Bool => {
            let b = value
                .as_bool()
                .ok_or_else(|| mismatch(field.json, "a boolean", value))?;
            put_varint_field(out, n, u64::from(b));
        }
        Ty::Int32 => {
            let v = int_of(value)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| mismatch(field.json, "an int32", value))?;
            put_varint_field(out, n, i64::from(v) as u64);
        }
        Ty::Int64 => {
            let v = int_of(value).ok_or_else(|| mismatch(field.json, "an int64", value))?;
            put_varint_field(out, n, v as u64);
        }
        Ty::Double => {
            let v = value
                .as_f64()
                .ok_or_else(|| mismatch(field.json, "a number", value))?;
            put_fixed64_field(out, n, v.to_bits());
        }
        Ty::Message(_) | Ty::MapString | Ty::MapBytes | Ty::MapMessage(_) => {
            return Err(format!("{} is not a scalar", field.json));
        }
    }
    Ok(())
}

fn string<'v>(name: &str, value: &'v Value) -> Result<&'v str> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok(""),
        other => Err(mismatch(name, "a string", other)),
    }
}

fn bytes(name: &str, value: &Value) -> Result<Vec<u8>> {
    let s = string(name, value)?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("{name}: illegal base64 data: {e}"))
}

/// An integer, also from a float with no fraction (`1.0`).
fn int_of(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let f = value.as_f64()?;
        (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
    })
}

fn field_of(msg: &'static Message, number: u32) -> Result<&'static Field> {
    msg.field(number)
        .map(|(_, f)| f)
        .ok_or_else(|| format!("{} has no field {number}", msg.short_name()))
}

fn sub_message(field: &Field) -> Result<&'static Message> {
    match field.ty {
        Ty::Message(index) => Ok(schema::message(index)),
        _ => Err(format!("{} is not a message", field.json)),
    }
}

fn mismatch(name: &str, expected: &str, got: &Value) -> String {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("{name}: expected {expected}, got {got}")
}
