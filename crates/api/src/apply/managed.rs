//! `metadata.managedFields`: decoding, encoding and the bookkeeping upstream does around them
//! (`k8s.io/apimachinery/pkg/util/managedfields/internal`: `managedfields.go`, `capmanagers.go`,
//! `buildmanagerinfo.go`).

use serde_json::{Map, Value};

use super::error::ApplyError;
use super::fieldset::FieldSet;
use super::path::write_go_json_string;

/// The `operation` of a managedFields entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Written by server-side apply; the set is exactly what the manager last applied.
    Apply,
    /// Written by create, update or a non-apply patch; the set accumulates what it changed.
    Update,
}

impl Operation {
    /// `Apply` or `Update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One decoded `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedFieldsEntry {
    /// The field manager (`kubectl`, `kubectl-client-side-apply`, ...).
    pub manager: String,
    pub operation: Operation,
    /// The API version the field paths refer to (`apps/v1`).
    pub api_version: String,
    /// When the manager last changed the object (RFC 3339), if known.
    pub time: Option<String>,
    /// `""` for the main resource, otherwise the subresource written (`status`, `scale`).
    pub subresource: String,
    /// The owned fields.
    pub fields: FieldSet,
}

/// Upstream keys managers by this identity: `apiVersion` only counts for `Update` entries, so an
/// applier keeps one entry across versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManagerId<'a> {
    pub(crate) manager: &'a str,
    pub(crate) operation: Operation,
    pub(crate) api_version: &'a str,
    pub(crate) subresource: &'a str,
}

impl ManagedFieldsEntry {
    pub(crate) fn id(&self) -> ManagerId<'_> {
        ManagerId {
            manager: &self.manager,
            operation: self.operation,
            api_version: match self.operation {
                Operation::Apply => "",
                Operation::Update => &self.api_version,
            },
            subresource: &self.subresource,
        }
    }

    pub(crate) fn is(&self, id: &ManagerId<'_>) -> bool {
        self.id() == *id
    }

    /// Upstream's manager identifier (`BuildManagerIdentifier`): the JSON of the entry without
    /// fields and time, used to order conflicts.
    pub(crate) fn identifier(&self) -> String {
        identifier(&self.id())
    }

    /// The JSON object stored in `metadata.managedFields`, members in upstream's order.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::String(self.manager.clone()));
        }
        m.insert("operation".into(), Value::String(self.operation.as_str().into()));
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if let Some(time) = &self.time {
            m.insert("time".into(), Value::String(time.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::String(self.subresource.clone()));
        }
        Value::Object(m)
    }
}

pub(crate) fn identifier(id: &ManagerId<'_>) -> String {
    let mut out = String::from("{\"manager\":");
    write_go_json_string(id.manager, &mut out);
    out.push_str(",\"operation\":\"");
    out.push_str(id.operation.as_str());
    out.push('"');
    if !id.api_version.is_empty() {
        out.push_str(",\"apiVersion\":");
        write_go_json_string(id.api_version, &mut out);
    }
    if !id.subresource.is_empty() {
        out.push_str(",\"subresource\":");
        write_go_json_string(id.subresource, &mut out);
    }
    out.push('}');
    out
}

/// Decodes the `metadata.managedFields` of `obj` (`DecodeManagedFields`). A missing or `null`
/// list is empty. Later entries with the same identity replace earlier ones, as upstream's map
/// does.
pub fn decode_managed_fields(obj: &Value) -> Result<Vec<ManagedFieldsEntry>, ApplyError> {
    match obj.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => decode_entries(items),
        Some(_) => Err(ApplyError::ManagedFields("managedFields must be a list".into())),
    }
}

pub(crate) fn decode_entries(items: &[Value]) -> Result<Vec<ManagedFieldsEntry>, ApplyError> {
    let mut out: Vec<ManagedFieldsEntry> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let entry = decode_entry(i, item)?;
        if let Some(existing) = out.iter_mut().find(|e| e.id() == entry.id()) {
            *existing = entry;
        } else {
            out.push(entry);
        }
    }
    Ok(out)
}

fn decode_entry(i: usize, item: &Value) -> Result<ManagedFieldsEntry, ApplyError> {
    let err = |msg: String| ApplyError::ManagedFields(msg);
    let Value::Object(m) = item else {
        return Err(err(format!("managed fields entry {i} is not an object")));
    };
    let text = |key: &str| -> Result<String, ApplyError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApplyError::ManagedFields(format!(
                "managed fields entry {i}: {key} must be a string"
            ))),
        }
    };
    let operation = match text("operation")?.as_str() {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return Err(err("operation must be `Apply` or `Update`".into())),
    };
    let api_version = text("apiVersion")?;
    if api_version.is_empty() {
        return Err(err("apiVersion must not be empty".into()));
    }
    match text("fieldsType")?.as_str() {
        "FieldsV1" => {}
        "" => return Err(err(format!("missing fieldsType in managed fields entry {i}"))),
        other => {
            return Err(err(format!(
                "invalid fieldsType {other:?} in managed fields entry {i}"
            )));
        }
    }
    let fields = match m.get("fieldsV1") {
        None | Some(Value::Null) => FieldSet::new(),
        Some(v) => FieldSet::from_fields_v1(v).map_err(|e| err(format!("error decoding set: {e}")))?,
    };
    let time = Some(text("time")?).filter(|t| !t.is_empty());
    Ok(ManagedFieldsEntry {
        manager: text("manager")?,
        operation,
        api_version,
        time,
        subresource: text("subresource")?,
        fields,
    })
}

/// Sorts entries as upstream stores them (`sortEncodedManagedFields`): `Apply` before `Update`,
/// then oldest first, then by manager, API version and subresource.
pub fn sort_entries(entries: &mut [ManagedFieldsEntry]) {
    entries.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| unix_seconds(p.time.as_deref()).cmp(&unix_seconds(q.time.as_deref())))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
}

/// Encodes `entries` (sorted first) as the `metadata.managedFields` value; `None` when there
/// are none (upstream then omits the field).
pub fn encode_managed_fields(entries: &mut [ManagedFieldsEntry]) -> Option<Value> {
    if entries.is_empty() {
        return None;
    }
    sort_entries(entries);
    Some(Value::Array(
        entries.iter().map(ManagedFieldsEntry::to_value).collect(),
    ))
}

/// Writes `entries` into `obj.metadata.managedFields`, or removes the field when empty.
pub(crate) fn store(obj: &mut Value, mut entries: Vec<ManagedFieldsEntry>) {
    let encoded = encode_managed_fields(&mut entries);
    let Value::Object(root) = obj else {
        return;
    };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        return;
    };
    match encoded {
        Some(v) => {
            meta.insert("managedFields".into(), v);
        }
        None => {
            if meta.contains_key("managedFields") {
                crate::patch::remove_ordered(meta, "managedFields");
            }
        }
    }
}

/// Upstream's `DefaultMaxUpdateManagers`.
pub(crate) const MAX_UPDATE_MANAGERS: usize = 10;

/// Merges the oldest `Update` entries into per-version `ancient-changes` buckets until at most
/// [`MAX_UPDATE_MANAGERS`] remain (`capManagersManager`).
pub(crate) fn cap_update_managers(entries: &mut Vec<ManagedFieldsEntry>) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| {
        let (p, q) = (&entries[a], &entries[b]);
        unix_seconds(p.time.as_deref())
            .cmp(&unix_seconds(q.time.as_deref()))
            .then_with(|| p.identifier().cmp(&q.identifier()))
    });
    // Work on identities, since entries move around.
    let order: Vec<(String, Operation, String, String)> = updaters
        .iter()
        .map(|&i| {
            let e = &entries[i];
            (
                e.manager.clone(),
                e.operation,
                e.api_version.clone(),
                e.subresource.clone(),
            )
        })
        .collect();
    let position = |entries: &[ManagedFieldsEntry], (m, op, v, s): &(String, Operation, String, String)| {
        entries
            .iter()
            .position(|e| e.manager == *m && e.operation == *op && e.api_version == *v && e.subresource == *s)
    };
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut length = order.len();
    for (n, key) in order.iter().enumerate() {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = key.2.clone();
        let bucket_id = ManagerId {
            manager: "ancient-changes",
            operation: Operation::Update,
            api_version: &version,
            subresource: "",
        };
        let Some(&(_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version.clone(), n));
            continue;
        };
        if !entries.iter().any(|e| e.is(&bucket_id))
            && let Some(i) = position(entries, &order[first])
        {
            let mut moved = entries.remove(i);
            moved.manager = "ancient-changes".into();
            moved.subresource = String::new();
            entries.push(moved);
        }
        let Some(i) = position(entries, key) else {
            continue;
        };
        let merged = entries.remove(i);
        length -= 1;
        if let Some(bucket) = entries.iter_mut().find(|e| e.is(&bucket_id)) {
            bucket.fields.union_owned(merged.fields);
            bucket.time = merged.time;
        }
    }
}

/// Seconds since the epoch of an RFC 3339 timestamp; 0 when absent or unreadable (upstream
/// compares `Time.Unix()`, and a nil time as 0).
pub(crate) fn unix_seconds(t: Option<&str>) -> i64 {
    t.and_then(parse_rfc3339).unwrap_or(0)
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut rest = 19;
    if b.get(rest) == Some(&b'.') {
        rest += 1;
        while b.get(rest).is_some_and(u8::is_ascii_digit) {
            rest += 1;
        }
    }
    let offset = match b.get(rest)? {
        b'Z' | b'z' => 0,
        sign @ (b'+' | b'-') => {
            let (h, m) = (num(rest + 1, 2)?, num(rest + 4, 2)?);
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    // Days from civil (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(parse_rfc3339("2024-01-01T01:00:00.5+01:00"), Some(1_704_067_200));
        assert_eq!(parse_rfc3339("nonsense"), None);
    }
}
