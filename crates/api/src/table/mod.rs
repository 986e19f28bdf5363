//! Server-side Table printing (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
//!
//! Pure functions over `serde_json::Value` objects that reproduce the columns and cells of
//! upstream's printers (`pkg/printers/internalversion/printers.go`, Kubernetes 1.33), the
//! default convertor (`apiserver/pkg/registry/rest/table.go`) and the custom-resource
//! convertor driven by `additionalPrinterColumns`. The server always prints the wide variant;
//! kubectl hides `priority > 0` columns unless `-o wide`.
//!
//! Objects are expected in their served (defaulted) form. Missing fields print as upstream
//! prints a zero value (`<none>`, `<unknown>`, `0`, ...); no input makes these functions panic.
//!
//! Time is passed explicitly as `now`: seconds since the Unix epoch.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

mod apps;
mod autoscaling;
mod batch;
mod core;
mod core_volumes;
mod crd;
mod event;
mod jsonpath;
mod networking;
mod others;
mod pod;
mod quantity;
mod rbac;
mod storage;
mod time;
mod util;

#[cfg(test)]
mod tests;

pub use crd::CustomResourceColumns;
pub use time::{age_since, human_duration, human_duration_nanos, short_human_duration_nanos};

use util::{CREATION_DESC, get, name_col};

/// A `meta.k8s.io/v1` `TableColumnDefinition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
}

/// The `includeObject` query parameter: what each row's `object` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No `object` on rows.
    None,
    /// The object's metadata as a `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; absent or empty means `Metadata`. The error
    /// is the message of upstream's 400 BadRequest.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(Self::Metadata),
            "None" => Ok(Self::None),
            "Object" => Ok(Self::Object),
            other => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// A built-in printer: its column definitions and its row function (wide cells).
#[derive(Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) columns: fn() -> Vec<ColumnDefinition>,
    pub(crate) row: fn(&Value, i64) -> Vec<Value>,
}

impl Printer {
    pub(crate) const fn new(
        columns: fn() -> Vec<ColumnDefinition>,
        row: fn(&Value, i64) -> Vec<Value>,
    ) -> Self {
        Printer { columns, row }
    }
}

fn printer(group: &str, kind: &str) -> Option<Printer> {
    match group {
        "" | "core" => core::lookup(kind),
        "apps" => apps::lookup(kind),
        "batch" => batch::lookup(kind),
        "events.k8s.io" => (kind == "Event").then_some(event::EVENTS_K8S_IO),
        "networking.k8s.io" | "discovery.k8s.io" => networking::lookup(group, kind),
        "storage.k8s.io" => storage::lookup(kind),
        "rbac.authorization.k8s.io" => rbac::lookup(kind),
        "autoscaling" => autoscaling::lookup(kind),
        _ => others::lookup(group, kind),
    }
}

/// Upstream's default convertor columns: `Name` and `Created At` (type `date`).
pub fn default_columns() -> Vec<ColumnDefinition> {
    vec![name_col(), util::col("Created At", "date", CREATION_DESC)]
}

/// Upstream's default convertor cells: name and `creationTimestamp` in RFC 3339 (UTC).
pub fn default_row(obj: &Value) -> Vec<Value> {
    let created = time::Time::from_json(get(obj, &["metadata", "creationTimestamp"]));
    util::cells![util::name(obj), time::format_rfc3339(created)]
}

/// The column definitions for a built-in kind (`group` is `""` for the core group). Kinds
/// without an upstream printer get the default convertor's columns.
pub fn columns(group: &str, kind: &str) -> Vec<ColumnDefinition> {
    printer(group, kind).map_or_else(default_columns, |p| (p.columns)())
}

/// One row's cells for a built-in kind, matching [`columns`] one to one.
pub fn row(group: &str, kind: &str, obj: &Value, now: i64) -> Vec<Value> {
    match printer(group, kind) {
        Some(p) => (p.row)(obj, now),
        None => default_row(obj),
    }
}

/// Row conditions upstream attaches (`Completed` for finished pods); usually empty.
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    if matches!(group, "" | "core") && kind == "Pod" {
        pod::conditions(obj)
    } else {
        Vec::new()
    }
}

/// Builds one `TableRow` object.
pub fn table_row(cells: Vec<Value>, conditions: Vec<Value>, obj: &Value, include: IncludeObject) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells));
    if !conditions.is_empty() {
        row.insert("conditions".into(), Value::Array(conditions));
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_object_metadata(obj));
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
    }
    Value::Object(row)
}

/// `meta.k8s.io/v1` `PartialObjectMetadata` of an object.
pub fn partial_object_metadata(obj: &Value) -> Value {
    let metadata = get(obj, &["metadata"])
        .filter(|m| m.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
}

/// Assembles a `meta.k8s.io/v1` `Table`. `columns: None` gives `"columnDefinitions": null`,
/// as upstream sends for `TableOptions.NoHeaders` (watch events after the first).
/// `resourceVersion`, `continue` and `remainingItemCount` are copied from `list_meta`.
pub fn assemble_table(columns: Option<&[ColumnDefinition]>, rows: Vec<Value>, list_meta: &Value) -> Value {
    let mut metadata = Map::new();
    for key in ["resourceVersion", "continue"] {
        if let Some(s) = list_meta
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            metadata.insert(key.into(), Value::from(s));
        }
    }
    if let Some(n) = list_meta.get("remainingItemCount").filter(|v| v.is_number()) {
        metadata.insert("remainingItemCount".into(), n.clone());
    }
    let column_definitions = match columns {
        Some(c) => serde_json::to_value(c).unwrap_or(Value::Null),
        None => Value::Null,
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Options for [`table_with_options`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    pub include_object: IncludeObject,
    /// Omit column definitions (`TableOptions.noHeaders`).
    pub no_headers: bool,
}

/// The full `Table` for built-in objects of one kind.
pub fn table(
    group: &str,
    kind: &str,
    objects: &[Value],
    include_object: IncludeObject,
    list_meta: &Value,
    now: i64,
) -> Value {
    let opts = TableOptions {
        include_object,
        no_headers: false,
    };
    table_with_options(group, kind, objects, opts, list_meta, now)
}

/// [`table`] with all of upstream's `TableOptions`.
pub fn table_with_options(
    group: &str,
    kind: &str,
    objects: &[Value],
    opts: TableOptions,
    list_meta: &Value,
    now: i64,
) -> Value {
    let mut order: Vec<&Value> = objects.iter().collect();
    if group == "flowcontrol.apiserver.k8s.io" && kind == "FlowSchema" {
        // printFlowSchemaList sorts by matching precedence, then name.
        order.sort_by(|a, b| {
            let key = |o: &Value| (util::int_at(o, &["spec", "matchingPrecedence"]), util::name(o));
            key(a).cmp(&key(b))
        });
    }
    let rows = order
        .into_iter()
        .map(|o| {
            table_row(
                row(group, kind, o, now),
                row_conditions(group, kind, o),
                o,
                opts.include_object,
            )
        })
        .collect();
    let cols = (!opts.no_headers).then(|| columns(group, kind));
    assemble_table(cols.as_deref(), rows, list_meta)
}
