//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`), which kubectl ≥ 1.32
//! sends for its `create <generator>` commands (client-go's typed clients prefer protobuf).
//!
//! The wire format (`k8s.io/apimachinery/pkg/runtime/serializer/protobuf`): the magic `k8s\0`,
//! then a `runtime.Unknown` message — `typeMeta` (1: `apiVersion` = 1, `kind` = 2), `raw` (2: the
//! object encoded with the `generated.proto` messages of its group), `contentEncoding` (3) and
//! `contentType` (4).
//!
//! The objects are decoded with a schema generated from upstream's `generated.proto` files joined
//! with the Go types' JSON tags ([`messages`], by `gen_schema.py`), and turned into the JSON the
//! rest of the server works with: exactly what a Go client's JSON body for the same object holds
//! (see [`decode`](mod@decode) for the rules). [`encode`] is the way back, for clients that
//! ask for protobuf answers ([`respond`] negotiates and re-encodes, [`watch`](mod@watch) frames
//! watch streams).

mod decode;
mod encode;
#[rustfmt::skip]
mod messages;
mod respond;
mod schema;
#[cfg(test)]
mod tests;
mod timestamps;
mod watch;
mod wire;

pub(crate) use respond::respond;

use rudder_api::status::ApiError;
use serde_json::Value;

use wire::{Reader, WireValue, put_len};

pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// `k8s\0`, the prefix of every protobuf-encoded object.
const MAGIC: &[u8; 4] = b"k8s\0";

/// What a request body in a format other than protobuf would be accepted as, for the 415 of
/// kinds that have no protobuf form (custom resources), as upstream answers for them.
const JSON_MEDIA_TYPES: &[&str] = &["application/json", "application/yaml"];

/// Decodes a protobuf request body into the object's JSON form, `apiVersion` and `kind`
/// included. Malformed bodies are 400 BadRequest; kinds without a protobuf form 415.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let unknown = envelope(body).map_err(|e| unrecognized(&e, body))?;
    let Some(msg) = schema::lookup(&unknown.api_version, &unknown.kind) else {
        return Err(ApiError::unsupported_media_type(JSON_MEDIA_TYPES));
    };
    let kind = &unknown.kind;
    let cannot_handle = |e: String| {
        let version = unknown.api_version.rsplit('/').next().unwrap_or_default();
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {e}"
        ))
    };
    let Value::Object(mut obj) = decode::message(msg, unknown.raw, 0).map_err(cannot_handle)? else {
        return Err(cannot_handle(format!("{} is not an object", msg.short_name())));
    };
    obj.insert("apiVersion".into(), Value::String(unknown.api_version.clone()));
    obj.insert("kind".into(), Value::String(unknown.kind.clone()));
    Ok(Value::Object(obj))
}

/// Encodes an object (with its `apiVersion` and `kind`) as a protobuf body. Kinds without a
/// protobuf form are 406 NotAcceptable; an object that does not fit its schema is a 500.
pub(crate) fn encode(obj: &Value) -> Result<Vec<u8>, ApiError> {
    let field = |name: &str| obj.get(name).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    let Some(msg) = schema::lookup(api_version, kind) else {
        return Err(ApiError::not_acceptable(JSON_MEDIA_TYPES));
    };
    let raw = encode::message(msg, obj, 0)
        .map_err(|e| ApiError::internal(format!("encoding {kind} as protobuf: {e}")))?;
    let mut type_meta = Vec::new();
    put_len(&mut type_meta, 1, api_version.as_bytes());
    put_len(&mut type_meta, 2, kind.as_bytes());
    let mut out = Vec::with_capacity(raw.len() + type_meta.len() + 16);
    out.extend_from_slice(MAGIC);
    put_len(&mut out, 1, &type_meta);
    put_len(&mut out, 2, &raw);
    put_len(&mut out, 3, b"");
    put_len(&mut out, 4, b"");
    Ok(out)
}

/// A decoded `runtime.Unknown`.
#[derive(Debug, Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

/// Parses the magic and the `runtime.Unknown` around the object, with upstream's messages.
fn envelope(body: &[u8]) -> Result<Unknown<'_>, String> {
    let Some(data) = body.strip_prefix(MAGIC) else {
        return Err(if body.is_empty() {
            "empty data".into()
        } else {
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]".into()
        });
    };
    if data.is_empty() {
        return Err("empty body".into());
    }
    let mut unknown = Unknown::default();
    let (mut content_encoding, mut content_type) = (String::new(), String::new());
    let mut r = Reader::new(data);
    while !r.is_empty() {
        let (number, value) = r.field("Unknown")?;
        let bytes = match value {
            WireValue::Len(b) => b,
            _ if number <= 4 => {
                return Err(format!(
                    "proto: wrong wireType = {} for field {number}",
                    value.wire_type()
                ));
            }
            _ => continue,
        };
        match number {
            1 => {
                let mut tm = Reader::new(bytes);
                while !tm.is_empty() {
                    match tm.field("TypeMeta")? {
                        (n @ (1 | 2), WireValue::Len(s)) => {
                            let s = String::from_utf8_lossy(s).into_owned();
                            if n == 1 {
                                unknown.api_version = s
                            } else {
                                unknown.kind = s
                            }
                        }
                        (n @ (1 | 2), v) => {
                            return Err(format!("proto: wrong wireType = {} for field {n}", v.wire_type()));
                        }
                        _ => {}
                    }
                }
            }
            2 => unknown.raw = bytes,
            3 => content_encoding = String::from_utf8_lossy(bytes).into_owned(),
            4 => content_type = String::from_utf8_lossy(bytes).into_owned(),
            _ => {}
        }
    }
    let type_meta = || {
        format!(
            "runtime.TypeMeta{{APIVersion:{:?}, Kind:{:?}}}",
            unknown.api_version, unknown.kind
        )
    };
    if unknown.kind.is_empty() {
        return Err(format!("Object 'Kind' is missing in '{}'", type_meta()));
    }
    if unknown.api_version.is_empty() {
        return Err(format!("Object 'apiVersion' is missing in '{}'", type_meta()));
    }
    if !content_encoding.is_empty() {
        return Err(format!(
            "unsupported content encoding {content_encoding:?} of the protobuf object"
        ));
    }
    if !content_type.is_empty() && content_type != MEDIA_TYPE {
        return Err(format!(
            "unsupported content type {content_type:?} of the protobuf object"
        ));
    }
    Ok(unknown)
}

/// 400 for a body that is no protobuf object at all, as upstream's `transformDecodeError`:
/// the error and a summary of the first 30 bytes (as text if JSON-like, else hex).
fn unrecognized(err: &str, body: &[u8]) -> ApiError {
    let head = &body[..body.len().min(30)];
    let more = if body.len() > 30 { " ..." } else { "" };
    let summary = match body.first() {
        None => "<empty>".to_string(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => format!(
            "{}{more}",
            head.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    };
    ApiError::bad_request(format!("the object provided is unrecognized: {err} ({summary})"))
}
