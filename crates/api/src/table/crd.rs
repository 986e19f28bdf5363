//! Tables for custom resources from a CRD version's `additionalPrinterColumns` (upstream
//! `apiextensions-apiserver/pkg/registry/customresource/tableconvertor`).

use serde_json::Value;

use super::jsonpath::{self, Step};
use super::time::{Time, parse_rfc3339, since_time};
use super::util::{CREATION_DESC, arr_at, as_int, int_at, name, name_col, str_at};
use super::{ColumnDefinition, IncludeObject, TableOptions, assemble_table, table_row};

/// The columns of one served CRD version, ready to print objects of that version.
#[derive(Debug, Clone)]
pub struct CustomResourceColumns {
    definitions: Vec<ColumnDefinition>,
    /// One per additional column; `None` when its JSONPath is outside the supported subset
    /// (its cells are then `null`).
    paths: Vec<Option<Vec<Step>>>,
}

impl CustomResourceColumns {
    /// Builds from a CRD version's `additionalPrinterColumns` array entries
    /// (`{name, type, format, description, priority, jsonPath}`). With no columns, upstream's
    /// default applies: `Age`, type `date`, from `.metadata.creationTimestamp`.
    pub fn new(additional_printer_columns: &[Value]) -> Self {
        let default_age;
        let columns = if additional_printer_columns.is_empty() {
            default_age = [serde_json::json!({
                "name": "Age",
                "type": "date",
                "description": CREATION_DESC,
                "jsonPath": ".metadata.creationTimestamp",
            })];
            &default_age[..]
        } else {
            additional_printer_columns
        };
        let mut definitions = vec![name_col()];
        let mut paths = Vec::with_capacity(columns.len());
        for c in columns {
            let json_path = str_at(c, &["jsonPath"]);
            let description = match str_at(c, &["description"]) {
                "" => format!("Custom resource definition column (in JSONPath format): {json_path}"),
                d => d.to_string(),
            };
            definitions.push(ColumnDefinition {
                name: str_at(c, &["name"]).to_string(),
                type_: str_at(c, &["type"]).to_string(),
                format: str_at(c, &["format"]).to_string(),
                description,
                priority: i32::try_from(int_at(c, &["priority"])).unwrap_or(0),
            });
            paths.push(jsonpath::parse(json_path));
        }
        CustomResourceColumns { definitions, paths }
    }

    /// Builds from a whole CRD object for one of its versions: `spec.versions[].
    /// additionalPrinterColumns`, falling back to the top-level v1beta1
    /// `spec.additionalPrinterColumns`.
    pub fn for_crd_version(crd: &Value, version: &str) -> Self {
        let from_version = arr_at(crd, &["spec", "versions"])
            .iter()
            .find(|v| str_at(v, &["name"]) == version)
            .map(|v| arr_at(v, &["additionalPrinterColumns"]))
            .unwrap_or_default();
        if from_version.is_empty() {
            Self::new(arr_at(crd, &["spec", "additionalPrinterColumns"]))
        } else {
            Self::new(from_version)
        }
    }

    /// The column definitions: `Name`, then the additional columns.
    pub fn columns(&self) -> Vec<ColumnDefinition> {
        self.definitions.clone()
    }

    /// One row's cells.
    pub fn row(&self, obj: &Value, now: i64) -> Vec<Value> {
        let mut cells = Vec::with_capacity(self.definitions.len());
        cells.push(Value::from(name(obj)));
        for (def, path) in self.definitions[1..].iter().zip(&self.paths) {
            let found = path
                .as_ref()
                .and_then(|p| jsonpath::eval(p, obj).first().copied());
            cells.push(match found {
                None => Value::Null,
                Some(v) => cell_for(&def.type_, v, now),
            });
        }
        cells
    }

    /// The full `Table` for objects of this CRD version.
    pub fn table(
        &self,
        objects: &[Value],
        include_object: IncludeObject,
        list_meta: &Value,
        now: i64,
    ) -> Value {
        let opts = TableOptions {
            include_object,
            no_headers: false,
        };
        self.table_with_options(objects, opts, list_meta, now)
    }

    /// [`Self::table`] with all of upstream's `TableOptions`.
    pub fn table_with_options(
        &self,
        objects: &[Value],
        opts: TableOptions,
        list_meta: &Value,
        now: i64,
    ) -> Value {
        let rows = objects
            .iter()
            .map(|o| table_row(self.row(o, now), Vec::new(), o, opts.include_object))
            .collect();
        let defs = (!opts.no_headers).then_some(self.definitions.as_slice());
        assemble_table(defs, rows, list_meta)
    }
}

/// Upstream `cellForJSONValue`, plus the `string` branch that prints any value the way
/// `jsonpath.PrintResults` does.
fn cell_for(ty: &str, v: &Value, now: i64) -> Value {
    match ty {
        "string" => Value::String(print_result(v)),
        _ if v.is_null() => Value::Null,
        "integer" => v
            .as_i64()
            .or_else(|| v.is_f64().then(|| as_int(v)).flatten())
            .map_or(Value::Null, Value::from),
        "number" => v.as_f64().map_or(Value::Null, Value::from),
        "boolean" => v.as_bool().map_or(Value::Null, Value::from),
        "date" => match v.as_str() {
            Some("" | "null") => Value::from("<unknown>"),
            Some(s) => match parse_rfc3339(s) {
                Some(t) if t == Time::ZERO => Value::from("<unknown>"),
                Some(t) => Value::from(since_time(t, now)),
                None => Value::from("<invalid>"),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// `jsonpath.PrintResults` of one value: strings raw, numbers and booleans as Go's `%v`,
/// maps and lists as compact JSON, null as `<no value>`.
fn print_result(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Go's `fmt.Sprint(float64)`: `%g` with the shortest precision, which uses the exponent
/// form (`1e+06`, `1e-05`) when the decimal exponent is below -4 or at least 6.
pub(crate) fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}
