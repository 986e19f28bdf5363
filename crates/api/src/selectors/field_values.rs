//! Reading field-selector values out of JSON objects, the way upstream's per-kind
//! `ToSelectableFields` functions build their `fields.Set`.

use serde_json::Value;

/// Reads a dotted path (`spec.nodeName`, `involvedObject.kind`) from an object. Strings are
/// returned as is, bools as `true`/`false`, numbers in decimal. Missing, `null`, arrays and
/// objects give `None`.
pub fn field_value(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.as_object()?.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn bool_text(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn int_text(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

/// The value upstream's selectable-field set holds for `field` on a built-in object, where an
/// unset field has its Go zero value:
///
/// - `spec.hostNetwork` (pods), `spec.unschedulable` (nodes): `"false"` when unset;
/// - `status.replicas` (replicasets, replicationcontrollers): `"0"` when unset;
/// - `status.successful` (jobs) reads `status.succeeded`, `"0"` when unset;
/// - `status.podIP` (pods) is the first of `status.podIPs`, else `status.podIP`;
/// - `status.podIPs` (pods) is accepted upstream but never put in the set, so it is always
///   `""` (only `status.podIPs=` matches);
/// - `source` (events) is `source.component`, else `reportingComponent`;
/// - `spec.host` (pods, legacy) reads `spec.nodeName`;
/// - anything else is [`field_value`], `""` when absent.
pub fn selectable_field_value(obj: &Value, field: &str) -> String {
    match field {
        "spec.hostNetwork" => bool_text(obj, "/spec/hostNetwork"),
        "spec.unschedulable" => bool_text(obj, "/spec/unschedulable"),
        "status.replicas" => int_text(obj, "/status/replicas"),
        "status.successful" => int_text(obj, "/status/succeeded"),
        "status.podIP" => match obj.pointer("/status/podIPs/0/ip").and_then(Value::as_str) {
            Some(ip) => ip.to_string(),
            None => str_at(obj, "/status/podIP").to_string(),
        },
        "status.podIPs" => String::new(),
        "source" => {
            let component = str_at(obj, "/source/component");
            if component.is_empty() {
                str_at(obj, "/reportingComponent").to_string()
            } else {
                component.to_string()
            }
        }
        "spec.host" => str_at(obj, "/spec/nodeName").to_string(),
        _ => field_value(obj, field).unwrap_or_default(),
    }
}
