//! Upstream's format library: `format.<name>()` and `format.named(string)` (an optional) give a
//! named format, and `<Format>.validate(string)` gives `optional.none()` for a valid string or
//! the list of validation errors, worded as apimachinery's validators word them.

use std::sync::Arc;

use base64::Engine;
use cel::common::types::{STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{ExecutionError, Value};
use rudder_api::validation as names;

use super::{arg, give, give_opaque, text_arg, values};

type Validator = fn(&str) -> Vec<String>;

/// Every named format and its validator (upstream's `ConstantFormats`).
const FORMATS: &[(&str, Validator)] = &[
    ("dns1123Label", |s| names::name_is_dns_label(s, false)),
    ("dns1123Subdomain", |s| names::name_is_dns_subdomain(s, false)),
    ("dns1035Label", |s| names::name_is_dns1035_label(s, false)),
    ("qualifiedName", names::is_qualified_name),
    ("dns1123LabelPrefix", |s| names::name_is_dns_label(s, true)),
    ("dns1123SubdomainPrefix", |s| {
        names::name_is_dns_subdomain(s, true)
    }),
    ("dns1035LabelPrefix", |s| names::name_is_dns1035_label(s, true)),
    ("labelValue", names::is_valid_label_value),
    ("uri", uri),
    ("uuid", |s| failure(is_uuid(s), "does not match the UUID format")),
    ("byte", |s| {
        failure(
            base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
            "invalid base64",
        )
    }),
    ("date", |s| {
        failure(
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            "invalid date",
        )
    }),
    ("datetime", |s| {
        failure(
            chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            "invalid datetime",
        )
    }),
];

fn failure(ok: bool, message: &str) -> Vec<String> {
    if ok { Vec::new() } else { vec![message.to_string()] }
}

/// Go's `url.ParseRequestURI`: an absolute URI or an absolute path.
fn uri(s: &str) -> Vec<String> {
    let ok = if s.starts_with('/') {
        !s.contains(char::is_whitespace)
    } else {
        url::Url::parse(s).is_ok()
    };
    failure(ok, &format!("parse {s:?}: invalid URI for request"))
}

/// strfmt's UUID: 8-4-4-4-12 hex digits, or 32 hex digits, in either case.
fn is_uuid(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [a, b, c, d, e] => hex(a, 8) && hex(b, 4) && hex(c, 4) && hex(d, 4) && hex(e, 12),
        [whole] => hex(whole, 32),
        _ => false,
    }
}

/// A named format; formats are equal by name.
#[derive(Debug, Clone)]
struct Format {
    name: &'static str,
    validate: Validator,
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.name == other.name
    }
}

impl Eq for Format {}

impl Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.NamedFormat"
    }
}

fn named(name: &str) -> Option<Format> {
    FORMATS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(name, validate)| Format {
            name,
            validate: *validate,
        })
}

pub(super) fn register(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    let format = Type::new_opaque_type("kubernetes.NamedFormat");
    env.add_overload("format.named", "format-named", vec![STRING_TYPE], by_name)?;
    env.add_member_overload("validate", "format-validate", format, vec![STRING_TYPE], validate)?;
    // One zero-argument function per format; a function pointer cannot carry the name, so each
    // entry gets its own small function.
    macro_rules! constant {
        ($($name:literal),*) => {$(
            env.add_overload(concat!("format.", $name), concat!("format.", $name), vec![], |_| {
                give_opaque(named($name).ok_or_else(|| ExecutionError::function_error($name, "unknown format"))?)
            })?;
        )*};
    }
    constant!(
        "dns1123Label",
        "dns1123Subdomain",
        "dns1035Label",
        "qualifiedName",
        "dns1123LabelPrefix",
        "dns1123SubdomainPrefix",
        "dns1035LabelPrefix",
        "labelValue",
        "uri",
        "uuid",
        "byte",
        "date",
        "datetime"
    );
    Ok(())
}

fn by_name<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let found = named(text_arg("format.named", &args, 0)?).map(|f| Value::Opaque(Arc::new(f)));
    give(crate::optional(found))
}

fn validate<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let args = values(&args)?;
    let format = arg::<Format>("validate", &args, 0)?;
    let errors = (format.validate)(text_arg("validate", &args, 1)?);
    let result = (!errors.is_empty()).then(|| {
        Value::List(Arc::new(
            errors.into_iter().map(|e| Value::String(Arc::new(e))).collect(),
        ))
    });
    give(crate::optional(result))
}
